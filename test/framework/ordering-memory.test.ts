/**
 * The ordering table (test/helpers/ordering-cases.ts) on the memory transport: every pair of
 * events, both orders, same turn and a turn apart. The same table runs on real TCP
 * (ordering-tcp.test.ts); a case that passes on one and fails on the other is a transport bug.
 */
import { openMemoryRig } from '../helpers/ordering-memory-rig.js';
import { orderingSuite } from '../helpers/ordering-suite.js';

orderingSuite('memory', openMemoryRig);
