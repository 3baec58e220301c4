// The address a request's budget is kept under when the gateway asks no
// credential: the peer's, unless the peer is a trusted proxy
// (GATEWAY_TRUSTED_PROXIES). Then X-Forwarded-For (all its fields, joined)
// is read from the right, where each proxy appended the address it saw:
// trusted addresses are skipped and the first that is not is the client's.
// A malformed entry ends the walk, and the last address read counts (a
// client can write anything to the left of what its proxies appended);
// when every one is trusted, the leftmost. IPv4-mapped IPv6 addresses are
// read as IPv4. The Go gateway's rules, to the letter.
import type { IncomingHttpHeaders } from 'node:http'
import { BlockList, isIP } from 'node:net'

// The address in one canonical form (lowercase, IPv6 compressed, IPv4
// rather than IPv4-mapped IPv6), or undefined when it is none.
export function canonicalAddress(text: string): string | undefined {
  const version = isIP(text)
  if (version === 4) return text
  if (version !== 6) return undefined
  // The URL parser writes IPv6 addresses in their shortest form (and
  // refuses a zone: fe80::1%eth0 is no client's address).
  let host: string
  try {
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1)
  } catch {
    return undefined
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host)
  if (!mapped) return host
  const [hi, lo] = [parseInt(mapped[1] ?? '', 16), parseInt(mapped[2] ?? '', 16)]
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
}

function trusted(proxies: BlockList, address: string): boolean {
  return proxies.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6')
}

export function clientIp(remoteAddress: string | undefined, headers: IncomingHttpHeaders, proxies: BlockList): string {
  let address = canonicalAddress(remoteAddress ?? '')
  if (address === undefined) return remoteAddress ?? ''
  if (!trusted(proxies, address)) return address
  const field = headers['x-forwarded-for']
  const hops = (Array.isArray(field) ? field.join(',') : field ?? '').split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonicalAddress((hops[i] ?? '').trim())
    if (hop === undefined) break
    address = hop
    if (!trusted(proxies, address)) break
  }
  return address
}

// The trusted proxies as a BlockList; throws on an entry that is neither
// an address nor a CIDR block.
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const slash = entry.indexOf('/')
    const address = slash < 0 ? entry : entry.slice(0, slash)
    const version = isIP(address)
    if (version === 0) throw new Error(`not an address: ${entry}`)
    const type = version === 4 ? 'ipv4' : 'ipv6'
    if (slash < 0) {
      const canonical = canonicalAddress(address) ?? address
      list.addAddress(canonical, isIP(canonical) === 4 ? 'ipv4' : 'ipv6')
      continue
    }
    const bits = entry.slice(slash + 1)
    const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN
    if (!(prefix >= 0 && prefix <= (version === 4 ? 32 : 128))) throw new Error(`not a prefix length: ${entry}`)
    list.addSubnet(address, prefix, type)
  }
  return list
}
