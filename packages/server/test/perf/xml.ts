import assert from 'node:assert/strict';

/** Asserts that an SVG document is well-formed XML: tags balanced and nested, attributes quoted, entities known. */
export function checkWellFormed(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  let at = 0;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const text = xml.slice(at, lt < 0 ? xml.length : lt);
    for (const entity of text.matchAll(/&([^;\s]*);?/g)) assert.match(entity[0], /^&(amp|lt|gt|quot|#39|#\d+);$/, `bad entity ${entity[0]}`);
    assert.doesNotMatch(text, />/, 'a stray ">" in text');
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    assert.ok(m !== null, `malformed tag at ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, closing, name, , selfClosing] = m;
    if (closing === '/') assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (selfClosing !== '/') stack.push(name!);
    at = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'every element closed');
}
