import { describe, expect, it } from 'vitest';
import { csvRecords, parseDevicesCsv, parseDevicesFile, parseDevicesJson } from '../../src/cli/device-file.js';

describe('devices CSV (gatehouse device import)', () => {
  it('reads a header and rows: capabilities by spaces or semicolons with their flags, nicknames by semicolons, empty cells absent', () => {
    const csv = [
      'name,type,capabilities,displayName,room,nicknames',
      'front-door,lock,lock:pin battery,Front door,Hall,Entrance; Main door',
      'lamp-1,light,power;brightness,,,',
      'meter-7,,,,,',
    ].join('\n');
    expect(parseDevicesCsv(csv)).toEqual([
      {
        name: 'front-door', type: 'lock', displayName: 'Front door', room: 'Hall', nicknames: ['Entrance', 'Main door'],
        capabilities: [{ name: 'lock', requiresPin: true, requiresApproval: false }, { name: 'battery', requiresPin: false, requiresApproval: false }],
      },
      { name: 'lamp-1', type: 'light', capabilities: [{ name: 'power', requiresPin: false, requiresApproval: false }, { name: 'brightness', requiresPin: false, requiresApproval: false }] },
      { name: 'meter-7' },
    ]);
  });

  it('takes the columns in any order, quoted fields with commas, quotes and line breaks, CRLF and a BOM', () => {
    const csv = '\uFEFFroom,name,displayName\r\n"Kitchen, north","k-1","The ""big"" one"\r\n"Two\nlines",k-2,\r\n';
    expect(parseDevicesCsv(csv)).toEqual([
      { name: 'k-1', room: 'Kitchen, north', displayName: 'The "big" one' },
      { name: 'k-2', room: 'Two\nlines' },
    ]);
  });

  it('says what is wrong, with the line', () => {
    expect(() => parseDevicesCsv('')).toThrow(/empty/);
    expect(() => parseDevicesCsv('name,colour\nx,red')).toThrow(/Unknown CSV column colour/);
    expect(() => parseDevicesCsv('type\nlight')).toThrow(/no "name" column/);
    expect(() => parseDevicesCsv('name,capabilities\na,lock:pni')).toThrow(/Line 2: .*unknown flag pni/);
    expect(() => parseDevicesCsv('name\na,b')).toThrow(/Line 2: 2 fields/);
    expect(() => parseDevicesCsv('name\n"open')).toThrow(/not closed/);
  });

  it('numbers records by the line they start on', () => {
    expect(csvRecords('a\n"x\ny"\nb').map((r) => r.line)).toEqual([1, 2, 4]);
  });
});

describe('devices JSON', () => {
  it('takes an array or {devices: [...]} and picks by extension', () => {
    const devices = [{ name: 'a', capabilities: [{ name: 'power' }] }];
    expect(parseDevicesJson(JSON.stringify(devices))).toEqual(devices);
    expect(parseDevicesJson(JSON.stringify({ devices }))).toEqual(devices);
    expect(parseDevicesFile('fleet.JSON', JSON.stringify(devices))).toEqual(devices);
    expect(parseDevicesFile('fleet.csv', 'name\na')).toEqual([{ name: 'a' }]);
  });
  it('refuses what is not a list of named devices', () => {
    expect(() => parseDevicesJson('{')).toThrow(/does not parse/);
    expect(() => parseDevicesJson('[{"type":"light"}]')).toThrow(/each an object with a "name"/);
    expect(() => parseDevicesJson('{"fleet":[]}')).toThrow(/array of devices/);
  });
});
