#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { websocketPlugin } from './plugin.js';

await serverMain(websocketPlugin, 'portico-websocket');
