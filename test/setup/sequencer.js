// Jest's default order (failures first, then slowest first), except that test/zz-*.test.ts files run
// last: the history scan (test/zz-history-scan.test.ts) must see every workflow the suite started.
const Sequencer = require('@jest/test-sequencer').default;

class LastOfAllSequencer extends Sequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    const last = (t) => /[\\/]test[\\/]zz-[^\\/]*\.test\.ts$/.test(t.path);
    return [...sorted.filter((t) => !last(t)), ...sorted.filter(last)];
  }
}

module.exports = LastOfAllSequencer;
