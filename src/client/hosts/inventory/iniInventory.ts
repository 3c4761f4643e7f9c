import { HerdError } from '../../../protocol/errors.ts';
import { expandHostPattern } from './hostPatterns.ts';
import { literalOrText, shlexSplit } from './iniValues.ts';
import type { InventoryData } from './inventoryData.ts';

/*
 * Ansible's INI inventory (ansible/plugins/inventory/ini.py): lines before any section are hosts
 * of `ungrouped`; [group] lists hosts (`name[range][:port] key=value…`), [group:vars] its
 * variables, [group:children] its child groups, which may be declared further down. No I/O here.
 */
const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Pending {
  line: number;
  state: 'vars' | 'children';
  parents: string[];
}

export function readIniInventory(text: string, source: string, inventory: InventoryData): void {
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state = 'hosts';
  const fail = (line: number, what: string): never => {
    throw new HerdError('CONFIG', `${source}:${line}: ${what}`, { hint: 'ansible-inventory -i FILE --list shows how Ansible reads it' });
  };
  const addPendingChildren = (name: string): void => {
    for (const parent of pending.get(name)!.parents) {
      inventory.addChild(parent, name);
      if (pending.get(parent)?.state === 'children') addPendingChildren(parent);
    }
    pending.delete(name);
  };
  // Python's splitlines(): \r\n, \r and \n (and a few rarer separators) end a line.
  text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line[0] === '#' || line[0] === ';') return;
    const section = SECTION.exec(line);
    if (section !== null) {
      group = section[1]!;
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) fail(lineNo, `Section [${group}:${state}] has unknown type: ${state}`);
      if (!inventory.hasGroup(group)) {
        // [g:vars] may only name a group declared elsewhere: checked at the end.
        if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineNo, state: 'vars', parents: [] });
        inventory.addGroup(group);
      }
      const waiting = pending.get(group);
      if (waiting !== undefined && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(group);
        else pending.delete(group);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) fail(lineNo, `Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`);
    if (state === 'hosts') {
      const tokens = shlexSplit(line);
      if (tokens === null || tokens.length === 0) return fail(lineNo, `Error parsing host definition '${line}': No closing quotation`);
      const first = tokens[0]!;
      const { names, port } = expandHostPattern(first, `${source}:${lineNo}`);
      if (first.trim().endsWith(':') && port === null) fail(lineNo, `Invalid host pattern '${first}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
      if (names.some((n) => n.trim() === '---')) fail(lineNo, `Invalid host pattern '${first}' supplied, '---' is normally a sign this is a YAML file.`);
      const vars: Array<[string, unknown]> = [];
      for (const token of tokens.slice(1)) {
        const eq = token.indexOf('=');
        if (eq < 0) fail(lineNo, `Expected key=value host variable assignment, got: ${token}`);
        vars.push([token.slice(0, eq), literalOrText(token.slice(eq + 1))]);
      }
      for (const name of names) {
        inventory.addHost(name, group, port);
        for (const [k, v] of vars) inventory.setHostVar(name, k, v);
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) fail(lineNo, `Expected key=value, got: ${line}`);
      inventory.setGroupVar(group, line.slice(0, eq).trim(), literalOrText(line.slice(eq + 1).trim()));
    } else {
      const m = GROUP_NAME.exec(line);
      if (m === null) return fail(lineNo, `Expected group name, got: ${line}`);
      const child = m[1]!;
      if (!inventory.hasGroup(child)) {
        const waiting = pending.get(child);
        if (waiting === undefined) pending.set(child, { line: lineNo, state: 'children', parents: [group] });
        else waiting.parents.push(group);
      } else inventory.addChild(group, child);
    }
  });
  for (const [name, decl] of pending) {
    if (decl.state === 'vars') fail(decl.line, `Section [${name}:vars] not valid for undefined group: ${name}`);
    fail(decl.line, `Section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${name}`);
  }
}
