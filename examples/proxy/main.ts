#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { proxyPlugin } from './plugin.js';

await serverMain(proxyPlugin, 'portico-proxy');
