/**
 * The ordering table (test/helpers/ordering-cases.ts) on real TCP over 127.0.0.1: every pair of
 * events, both orders, same turn and a turn apart, on both TCP transports (the native handle a server
 * uses by default, and net.Socket). The same table runs on the memory transport
 * (ordering-memory.test.ts); a case that passes on one and fails on the other is a transport bug.
 */
import { orderingSuite } from '../helpers/ordering-suite.js';
import { tcpRig } from '../helpers/ordering-tcp-rig.js';

orderingSuite('TCP', tcpRig(true));
orderingSuite('TCP over net.Socket', tcpRig(false));
