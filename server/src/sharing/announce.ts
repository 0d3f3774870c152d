// What the terminal says about sharing: at start when it is on, and whenever the owner switches it.
import type { SharingState } from './sharing-service.js';
import { qrTerminal } from './lan-addresses.js';

export async function announceSharing(
  state: SharingState,
  print: (line: string) => void = console.log,
  // Block characters and colours only where a person is looking; logs get the plain addresses.
  drawQr = Boolean(process.stdout.isTTY),
): Promise<void> {
  if (!state.enabled) {
    print('Sharing is off: only this computer can open Easel.');
    return;
  }
  const [first] = state.addresses;
  if (!first) {
    print('Sharing is on, but this computer has no network address other devices could use.');
  } else {
    print('Sharing on your network. Other devices can open:');
    for (const a of state.addresses) print(`  ${a.url}${a.interface ? `   (${a.interface})` : ''}`);
    if (drawQr) print(await qrTerminal(first.url));
  }
  if (!state.passwordSet) {
    print('No access password is set yet, so other devices cannot sign in: open Easel on this computer, Settings → Sharing, and set one.');
  }
}
