/** Code-unit order, as C++'s std::map and std::sort order Triton's names (not locale order). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
