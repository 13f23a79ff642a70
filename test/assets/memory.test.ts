import { test } from 'node:test'
import assert from 'node:assert/strict'
import { memoryCollector, parseDmidecodeMemory, parseMeminfoTotal } from '../../server/assets/collectors/memory.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { fixture, override } from './support/targets.ts'

const GiB = 1024 ** 3

test('memory: MemTotal in bytes and the one DIMM QEMU describes, placeholders as null', async () => {
  assert.deepEqual(await memoryCollector.collect(await fixture('debian12-vm')), {
    totalBytes: 8136996 * 1024,
    modules: [{ slot: 'DIMM 0', sizeBytes: 8 * GiB, type: 'RAM', speedMts: null, manufacturer: 'QEMU', serial: null, partNumber: null }],
  })
})

test('memory: empty slots are left out and dmidecode 3.2 "MB" sizes are binary', async () => {
  const facts = await memoryCollector.collect(await fixture('centos7-dell'))
  assert.equal(facts.totalBytes, 65700712 * 1024)
  assert.deepEqual(facts.modules, [
    { slot: 'A1', sizeBytes: 32 * GiB, type: 'DDR4', speedMts: 2400, manufacturer: '00CE00B300CE', serial: '38A1B2C3', partNumber: 'M393A4K40BB1-CRC' },
    { slot: 'B1', sizeBytes: 32 * GiB, type: 'DDR4', speedMts: 2400, manufacturer: '00CE00B300CE', serial: '38A1B2D4', partNumber: 'M393A4K40BB1-CRC' },
  ])
})

test('memory: not root, dmidecode is not even tried and modules are unknown', async () => {
  const target = override(await fixture('alpine-arm-container'))
  const facts = await memoryCollector.collect(target)
  assert.deepEqual(facts, { totalBytes: 3919784 * 1024, modules: null })
  assert.ok(!target.calls.some((c) => c.includes('dmidecode')), target.calls.join('\n'))
})

test('memory: root without dmidecode installed, or failing, leaves modules unknown', async () => {
  assert.equal((await memoryCollector.collect(await fixture('this-machine'))).modules, null)
  const failing = override(await fixture('debian12-vm'), { commands: { 'dmidecode -t 17': new CommandFailedError('dmidecode -t 17', 1, '/dev/mem: Operation not permitted') } })
  assert.equal((await memoryCollector.collect(failing)).modules, null)
})

test('memory: a VirtualBox guest whose SMBIOS has no memory devices has unknown modules', async () => {
  assert.equal((await memoryCollector.collect(await fixture('ubuntu18-virtualbox'))).modules, null)
})

test('memory: "16 GB" and "16384 MB" are the same module; MT/s and MHz the same speed', () => {
  const device = (size: string, speed: string, locator: string) =>
    `Handle 0x11${locator.slice(-1)}0, DMI type 17, 84 bytes\nMemory Device\n\tSize: ${size}\n\tLocator: ${locator}\n\tBank Locator: BANK ${locator.slice(-1)}\n\tType: DDR5\n\tSpeed: ${speed}\n\tManufacturer: Samsung\n\tSerial Number: 0x12AB\n`
  const modules = parseDmidecodeMemory(`SMBIOS 3.5 present.\n\n${device('16 GB', '4800 MT/s', 'DIMM 1')}\n${device('16384 MB', '4800 MHz', 'DIMM 2')}`)
  assert.deepEqual(
    modules?.map((m) => [m.slot, m.sizeBytes, m.speedMts]),
    [
      ['DIMM 1', 16 * GiB, 4800],
      ['DIMM 2', 16 * GiB, 4800],
    ],
  )
})

test('memory: locators repeated across banks are told apart by the bank locator', () => {
  const device = (bank: string) => `Handle 0x1${bank}00, DMI type 17, 40 bytes\nMemory Device\n\tSize: 8 GB\n\tLocator: ChannelA-DIMM0\n\tBank Locator: BANK ${bank}\n`
  assert.deepEqual(
    parseDmidecodeMemory(`${device('0')}\n${device('2')}`)?.map((m) => m.slot),
    ['BANK 0 ChannelA-DIMM0', 'BANK 2 ChannelA-DIMM0'],
  )
})

test('memory: a meminfo without MemTotal fails the collector', () => {
  assert.throws(() => parseMeminfoTotal('MemFree: 1 kB\n'), /MemTotal/)
})
