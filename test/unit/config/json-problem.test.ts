// Where a config file's JSON is broken: line and column, from any of Node's ways of saying it.
import { expect } from 'chai';
import { jsonProblem, lineAndColumn } from '../../../src/config/json-problem.js';

/** What JSON.parse says of `text` on this Node. */
function parseMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${text} parsed`);
}

describe('where JSON is broken', function () {
  it('counts lines and columns from 1', function () {
    expect(lineAndColumn('{\n  "a": 1\n  x', 13)).to.deep.equal({ line: 3, column: 3 });
    expect(lineAndColumn('', 0)).to.deep.equal({ line: 1, column: 1 });
  });

  it('finds the place on this Node, whatever its message says', function () {
    const cases: [string, string][] = [
      ['{"a": }', "unexpected token '}' at line 1, column 7"],
      ['{"a": 1,}', 'at line 1, column 9'],
      [
        '{\n  "name": "x"\n  "db": 1\n}',
        "expected ',' or '}' after property value at line 3, column 3",
      ],
      ['{\n "a": "secret",\n "b": @\n}', "unexpected token '@' at line 3, column 7"],
      ['{"a": tru}', 'at line 1, column 10'],
      ['{"a":1} x', 'at line 1, column 9'],
      ['{"a": 1', 'at line 1, column 8'],
      ['{"a":', 'at line 1, column 6'],
    ];
    for (const [text, said] of cases) {
      const problem = jsonProblem(text, parseMessage(text));
      expect(problem, text).to.include(said);
      expect(problem, text).to.not.include('secret');
      expect(problem, text).to.not.include('is not valid JSON');
    }
  });

  it("takes the place from other Nodes' wording: a position, or a line and column", function () {
    const text = '{\n  "name": "x"\n  "db": 1\n}';
    expect(
      jsonProblem(
        text,
        "Expected ',' or '}' after property value in JSON at position 18 (line 3 column 3)",
      ),
    ).to.equal("expected ',' or '}' after property value at line 3, column 3");
    expect(jsonProblem(text, "Unexpected token 'x' in JSON at position 18")).to.equal(
      "unexpected token 'x' at line 3, column 3",
    );
    expect(jsonProblem('{"a": @}', `Unexpected token '@', "{"a": @}" is not valid JSON`)).to.equal(
      "unexpected token '@' at line 1, column 7",
    );
  });
});
