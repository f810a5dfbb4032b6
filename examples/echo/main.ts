#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { echoPlugin } from './plugin.js';

await serverMain(echoPlugin, 'portico-echo');
