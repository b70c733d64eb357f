import { customSearchAttributes } from '../../common/search-attributes';
import { connectTestTemporal, type TemporalTestContext } from '../helpers/temporal';

describe('the real Temporal dev server started by global setup', () => {
  let ctx: TemporalTestContext;
  beforeAll(async () => {
    ctx = await connectTestTemporal();
  });
  afterAll(async () => ctx?.close());

  test('is a real server reporting its version', async () => {
    const info = await ctx.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^1\.\d+\.\d+/);
    expect(info.capabilities?.signalAndQueryHeader).toBe(true);
  });

  test('has every custom search attribute registered as Keyword', async () => {
    const res = await ctx.connection.operatorService.listSearchAttributes({ namespace: ctx.namespace });
    for (const key of customSearchAttributes) {
      // IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD = 2
      expect(res.customAttributes?.[key.name]).toBe(2);
    }
  });
});
