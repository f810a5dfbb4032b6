/**
 * The ordering table (test/helpers/ordering-cases.ts) over TLS on 127.0.0.1: every pair of events,
 * both orders, same turn and a turn apart, with the outcomes expected of TCP (ordering-tcp.test.ts)
 * and the memory transport (ordering-memory.test.ts). The peer is a real TLS peer: its FIN is
 * close_notify, then FIN. Outcomes that differ from TCP are allowed only where TLS explains them (below);
 * any other difference is a TLS transport bug.
 */
import { orderingSuite } from '../helpers/ordering-suite.js';
import { openTlsRig } from '../helpers/ordering-tls-rig.js';

orderingSuite('TLS', openTlsRig, [
  {
    cases: ['closeNow → peerFin (same turn)', 'closeNow → peerFin (a turn apart)'],
    outcome: 'local-close / FIN RST',
    why:
      "close({ waitForPeer: false }) releases the socket once our FIN is out, and the kernel answers anything the peer still sends with RST: a TLS peer's FIN comes behind its close_notify, which is data",
  },
  {
    cases: ['drainCustom → abort (same turn)', 'drainCustom → deadline (same turn)', 'deadline → drainCustom (same turn)', 'deadline → drainCustom (a turn apart)'],
    outcome: 'local-close / bye RST',
    why:
      'a TLS write completes only after TLSWrap wrote its record (never at once, as a TCP write the kernel took does): when the abort comes, "bye" is still a queued write, the shutdown behind it has not started, and the RST drops it (as TCP drops a shutdown that waits behind queued writes)',
  },
]);
