#!/usr/bin/env node
import { serverMain } from '../shared/server-main.js';
import { owserverPlugin } from './plugin.js';

// owserver's own spellings work as they are: `-p HOST:PORT` and `-s HOST:PORT` are aliases of
// --listen and --upstream, `--name=value` with owserver's underscored names.
await serverMain(owserverPlugin, 'portico-owserver');
