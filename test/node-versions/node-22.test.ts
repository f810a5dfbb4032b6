/** The framework and server tests on Node 22 (test/helpers/node-version-suite.ts). */
import { NODE_VERSIONS, nodeVersionSuite } from '../helpers/node-version-suite.js';

nodeVersionSuite(NODE_VERSIONS[22]);
