// The addresses other devices can reach this server on, and QR codes for them (a phone's camera opens the URL).
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import QRCode from 'qrcode';

export interface LanAddress {
  url: string;
  interface: string;
}

// Bridges and tunnels for containers, VMs and VPNs: listed after the real network cards.
const VIRTUAL = /^(docker|br-|veth|virbr|vmnet|vboxnet|tun|tap|utun|zt|tailscale|wg|lo)/i;

function rank(name: string, address: string): number {
  const virtual = VIRTUAL.test(name) ? 10 : 0;
  if (address.startsWith('192.168.')) return virtual + 0;
  if (address.startsWith('10.')) return virtual + 1;
  if (/^172\.(1[6-9]|2\d|3[01])\./.test(address)) return virtual + 2;
  return virtual + 3;
}

/**
 * URLs for a server bound to `host` on `port`: every non-internal IPv4 address for a wildcard bind, or the one
 * address it is bound to. Link-local addresses (169.254.x) are left out: phones rarely reach them.
 */
export function lanUrls(
  host: string,
  port: number,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): LanAddress[] {
  if (host !== '0.0.0.0' && host !== '::') {
    return [{ url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`, interface: '' }];
  }
  const found: (LanAddress & { rank: number })[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (info.internal || info.family !== 'IPv4' || info.address.startsWith('169.254.')) continue;
      found.push({ url: `http://${info.address}:${port}/`, interface: name, rank: rank(name, info.address) });
    }
  }
  return found.sort((a, b) => a.rank - b.rank).map(({ url, interface: name }) => ({ url, interface: name }));
}

const dataUrls = new Map<string, Promise<string>>();

/** A PNG data URL of the QR code for `text` (cached: the same few URLs are asked for again and again). */
export function qrDataUrl(text: string): Promise<string> {
  let made = dataUrls.get(text);
  if (!made) {
    made = QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
    dataUrls.set(text, made);
    if (dataUrls.size > 32) dataUrls.delete(dataUrls.keys().next().value as string);
  }
  return made;
}

/** The QR code drawn with block characters, for the terminal. */
export function qrTerminal(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'terminal', small: true, errorCorrectionLevel: 'L' });
}
