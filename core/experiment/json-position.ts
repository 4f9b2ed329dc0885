/**
 * Finds the character offset of the first JSON syntax error in `text`, or
 * undefined when the text parses. Node's JSON.parse names the offset only
 * for some errors, so this small scanner locates the rest.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let index = 0;

  const fail = (): never => {
    throw index;
  };
  const skipWhitespace = () => {
    while (index < text.length && " \t\n\r".includes(text[index])) index++;
  };
  const expect = (literal: string) => {
    for (const character of literal) {
      if (text[index] !== character) fail();
      index++;
    }
  };
  const parseString = () => {
    expect('"');
    while (index < text.length && text[index] !== '"') {
      if (text.charCodeAt(index) < 0x20) fail();
      if (text[index] === "\\") {
        index++;
        if (text[index] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(index + 1, index + 5))) fail();
          index += 4;
        } else if (!'"\\/bfnrt'.includes(text[index] ?? "")) {
          fail();
        }
      }
      index++;
    }
    expect('"');
  };
  const parseNumber = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(index));
    if (match === null) fail();
    index += match![0].length;
  };
  const parseValue = (): void => {
    skipWhitespace();
    const character = text[index];
    if (character === "{") {
      index++;
      skipWhitespace();
      if (text[index] === "}") {
        index++;
        return;
      }
      for (;;) {
        skipWhitespace();
        parseString();
        skipWhitespace();
        expect(":");
        parseValue();
        skipWhitespace();
        if (text[index] !== ",") {
          expect("}");
          return;
        }
        index++;
      }
    }
    if (character === "[") {
      index++;
      skipWhitespace();
      if (text[index] === "]") {
        index++;
        return;
      }
      for (;;) {
        parseValue();
        skipWhitespace();
        if (text[index] !== ",") {
          expect("]");
          return;
        }
        index++;
      }
    }
    if (character === '"') parseString();
    else if (character === "t") expect("true");
    else if (character === "f") expect("false");
    else if (character === "n") expect("null");
    else parseNumber();
  };

  try {
    parseValue();
    skipWhitespace();
    if (index < text.length) fail();
    return undefined;
  } catch (offset) {
    if (typeof offset === "number") return offset;
    throw offset;
  }
}
