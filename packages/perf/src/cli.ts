/** nereid-perf's command line. */
export async function main(argv: readonly string[]): Promise<number> {
  void argv;
  return 99;
}
