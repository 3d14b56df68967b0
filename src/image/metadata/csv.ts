/**
 * The field splitting of one rule line (`type=match,"pattern=\d{1,3}",group=1`), as
 * docker/metadata-action reads its `tags` and `flavor` entries with csv-parse's defaults:
 * fields are separated by commas; a field that starts with `"` is quoted up to the next
 * lone `"`, and `""` inside it is one `"`. A quote anywhere else, or a quote left open,
 * is an error (csv-parse refuses them too). Pure.
 */

/** Why a line could not be split; the caller names the input and the line. */
export class FieldSyntaxError extends Error {
  override name = 'FieldSyntaxError'
}

/** Split one line into its comma-separated fields, unquoting quoted fields. */
export function splitFields(line: string): string[] {
  const fields: string[] = []
  let i = 0
  for (;;) {
    if (line[i] === '"') {
      let value = ''
      i++
      for (;;) {
        if (i >= line.length) {
          throw new FieldSyntaxError(`field ${fields.length + 1}: the quote is never closed`)
        }
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"'
            i += 2
            continue
          }
          i++
          break
        }
        value += line[i]
        i++
      }
      if (i < line.length && line[i] !== ',') {
        throw new FieldSyntaxError(
          `field ${fields.length + 1}: a closing quote must be followed by a comma or the end of the line`
        )
      }
      fields.push(value)
    } else {
      const end = line.indexOf(',', i)
      const value = end < 0 ? line.slice(i) : line.slice(i, end)
      if (value.includes('"')) {
        throw new FieldSyntaxError(
          `field ${fields.length + 1} (${JSON.stringify(value)}): a quote may only open a field; write "key=value" in quotes, right after the comma`
        )
      }
      fields.push(value)
      i = end < 0 ? line.length : end
    }
    if (i >= line.length) return fields
    i++ // the comma
  }
}
