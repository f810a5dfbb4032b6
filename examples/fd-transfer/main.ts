#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { fdFrontPlugin } from './plugin.js';

await serverMain(fdFrontPlugin, 'portico-fd-front');
