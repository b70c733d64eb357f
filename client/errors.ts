/** Input refused before anything started; each problem names its field. */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? `invalid input: ${problems[0]}` : `invalid input:\n  - ${problems.join('\n  - ')}`);
  }
}
