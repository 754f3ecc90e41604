import type { CapabilitySpec, NewDevice } from '../core/devices/device-input.js';
import { GatewayError } from '../core/errors.js';

/** The columns of a devices CSV file; a header row names them, in any order; only `name` is required. */
export const CSV_COLUMNS = ['name', 'type', 'capabilities', 'displayName', 'room', 'nicknames', 'ownerUserId', 'certificateCn'] as const;
type Column = (typeof CSV_COLUMNS)[number];

/**
 * `NAME[:pin][:approval]`, as in `--capability lock:pin`: a capability of the
 * catalogue (checked by the registry), its commands' risk raised on this
 * device to need the PIN on every channel, or a person's approval.
 */
export function parseCapability(spec: string): CapabilitySpec {
  const [name = '', ...flags] = spec.split(':');
  const unknown = flags.filter((flag) => flag !== 'pin' && flag !== 'approval');
  if (unknown.length > 0) throw new GatewayError('VALIDATION_FAILED', `Capability ${spec}: unknown flag ${unknown.join(', ')} (use NAME, NAME:pin or NAME:approval).`);
  return { name, requiresPin: flags.includes('pin'), requiresApproval: flags.includes('approval') };
}

/** RFC 4180 records: fields split on commas, quoted fields may hold commas, quotes ("") and line breaks. */
export function csvRecords(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== '') records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        quoted = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
    } else if (char === '"' && field === '') {
      quoted = true;
    } else if (char === ',') {
      fields.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      recordLine = ++line;
    } else {
      field += char;
    }
  }
  if (quoted) throw new GatewayError('VALIDATION_FAILED', `Line ${recordLine}: a quoted field is not closed.`);
  endRecord();
  return records;
}

const split = (value: string, separators: RegExp) => value.split(separators).map((part) => part.trim()).filter((part) => part !== '');

/**
 * A devices CSV: a header row naming CSV_COLUMNS, then one device a row.
 * `capabilities`: NAME[:pin][:approval] separated by spaces or semicolons;
 * `nicknames`: separated by semicolons (a nickname may hold spaces). Empty
 * cells are absent fields.
 */
export function parseDevicesCsv(text: string): NewDevice[] {
  const [header, ...rows] = csvRecords(text.replace(/^\uFEFF/, ''));
  if (!header) throw new GatewayError('VALIDATION_FAILED', 'The CSV file is empty: it needs a header row (name,type,capabilities,displayName,room,nicknames).');
  const columns = header.fields.map((name) => name.trim());
  const unknown = columns.filter((name) => !(CSV_COLUMNS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new GatewayError('VALIDATION_FAILED', `Unknown CSV column ${unknown.join(', ')}; columns: ${CSV_COLUMNS.join(', ')}.`);
  if (!columns.includes('name')) throw new GatewayError('VALIDATION_FAILED', 'The CSV header has no "name" column.');
  return rows.map(({ line, fields }) => {
    if (fields.length > columns.length) throw new GatewayError('VALIDATION_FAILED', `Line ${line}: ${fields.length} fields, but the header names ${columns.length}.`);
    const cell = (column: Column) => {
      const value = fields[columns.indexOf(column)]?.trim();
      return value === undefined || value === '' || !columns.includes(column) ? undefined : value;
    };
    const device: NewDevice = { name: cell('name') ?? '' };
    const set = <K extends keyof NewDevice>(key: K, value: NewDevice[K] | undefined) => value !== undefined && (device[key] = value);
    set('type', cell('type'));
    const capabilities = cell('capabilities');
    if (capabilities !== undefined) {
      try {
        device.capabilities = split(capabilities, /[\s;]+/).map(parseCapability);
      } catch (error) {
        throw new GatewayError('VALIDATION_FAILED', `Line ${line}: ${(error as Error).message}`);
      }
    }
    set('displayName', cell('displayName'));
    set('room', cell('room'));
    const nicknames = cell('nicknames');
    if (nicknames !== undefined) device.nicknames = split(nicknames, /;/);
    set('ownerUserId', cell('ownerUserId'));
    set('certificateCn', cell('certificateCn'));
    return device;
  });
}

/** A devices JSON file: an array of POST /v1/devices bodies, or `{ "devices": [...] }` as POST /v1/devices/batch takes. */
export function parseDevicesJson(text: string): NewDevice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new GatewayError('VALIDATION_FAILED', `The JSON file does not parse: ${(error as Error).message}`);
  }
  const devices = Array.isArray(parsed) ? parsed : (parsed as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(devices) || devices.some((d) => typeof d !== 'object' || d === null || typeof (d as { name?: unknown }).name !== 'string')) {
    throw new GatewayError('VALIDATION_FAILED', 'The JSON file must hold an array of devices (or {"devices": [...]}), each an object with a "name".');
  }
  return devices as NewDevice[];
}

/** By the file's extension: .json is JSON, anything else CSV. */
export function parseDevicesFile(path: string, text: string): NewDevice[] {
  return path.toLowerCase().endsWith('.json') ? parseDevicesJson(text) : parseDevicesCsv(text);
}
