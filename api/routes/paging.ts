/** Cursor paging over ids in id order: the cursor is the last id of the previous page. */
export function pageOfIds(ids: Iterable<string>, cursor: string | undefined, limit: number): { ids: string[]; next: string | null } {
  const sorted = [...ids].sort();
  const start = cursor === undefined ? 0 : sorted.findIndex((id) => id > cursor);
  const slice = start < 0 ? [] : sorted.slice(start, start + limit);
  const more = start >= 0 && start + limit < sorted.length;
  return { ids: slice, next: more ? slice[slice.length - 1]! : null };
}
