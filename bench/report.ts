/**
 * The report of `npm run bench`: a Markdown table with sunoye beside mosquitto's clients and
 * MQTT.js's command-line client, and the targets, each recorded with whether it was met.
 */

/** A target of issue 10 and what this run measured for it. */
export interface Target {
  measure: string;
  value: number | string;
  target: string;
  met: boolean;
}

const COLUMNS = [
  'measure',
  'sunoye',
  'mosquitto clients',
  'x mosquitto',
  'MQTT.js CLI',
  'x MQTT.js CLI',
  'target',
];

/** Collects the table's rows and the targets as the sections run. */
export class Report {
  readonly targets: Target[] = [];
  private readonly rows: string[] = [];

  /** A row: the measure, sunoye, mosquitto, x mosquitto, MQTT.js CLI, x MQTT.js CLI, target. */
  row(...cells: (string | number)[]): void {
    const all = [...cells, ...Array<string>(COLUMNS.length - cells.length).fill('')];
    this.rows.push(`| ${all.join(' | ')} |`);
  }

  /** Records whether `value` met `wanted`; returns the table's cell for it. */
  check(measure: string, value: number | string, wanted: string, met: boolean): string {
    this.targets.push({ measure, value, target: wanted, met });
    return `${wanted} ${met ? '✓' : '✗ NOT MET'}`;
  }

  /** Records a numeric target (`value op limit`, e.g. `≥ 4`); returns the table's cell for it. */
  target(measure: string, value: number, op: '≥' | '≤' | '<', limit: number, of = ''): string {
    const met = op === '≥' ? value >= limit : op === '≤' ? value <= limit : value < limit;
    return this.check(measure, value, `${op} ${limit}${of}`, met);
  }

  /** The Markdown table. */
  table(): string {
    const head = [`| ${COLUMNS.join(' | ')} |`, `|${' --- |'.repeat(COLUMNS.length)}`];
    return [...head, ...this.rows].join('\n');
  }

  /** One line: how many targets were met, and which were not. */
  summary(): string {
    const missed = this.targets.filter((t) => !t.met);
    const list = missed.map((t) => `${t.measure} (${t.value})`).join(', ');
    return `${this.targets.length - missed.length} of ${this.targets.length} targets met${missed.length ? `; not met: ${list}` : ''}`;
  }
}
