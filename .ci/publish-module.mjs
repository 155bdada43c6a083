// Publishes the default process library (cu/lua) as a Module item on a gateway and prints its
// id. Signed with arbundles (a dependency of aoconnect), as the ecosystem's tools sign.
// Usage: node publish-module.mjs <gateway url> <repo dir> <jwk wallet file>
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'

const [gateway, repo, walletFile] = process.argv.slice(2)
const require = createRequire(path.join(process.cwd(), 'package.json'))
const { createData, ArweaveSigner } = require('@dha-team/arbundles')
let jwk = JSON.parse(fs.readFileSync(walletFile, 'utf8'))
if (jwk.rsa) jwk = jwk.rsa.jwk // the shared test-vector file
const lua = path.join(repo, 'cu', 'lua')
const manifest = JSON.parse(fs.readFileSync(path.join(lua, 'manifest.json'), 'utf8'))
const modules = {}
for (const [name, file] of Object.entries(manifest.modules)) {
  modules[name] = fs.readFileSync(path.join(lua, file), 'utf8')
}
const signer = new ArweaveSigner(jwk)
const item = createData(JSON.stringify({ main: manifest.main, modules }), signer, {
  tags: [
    { name: 'Data-Protocol', value: 'ao' }, { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Module' }, { name: 'Module-Format', value: 'lua53' },
    { name: 'Input-Encoding', value: 'JSON-1' }, { name: 'Output-Encoding', value: 'JSON-1' },
    { name: 'Content-Type', value: 'application/json' },
  ],
})
await item.sign(signer)
const res = await fetch(`${gateway}/tx/arweave`, {
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream' },
  body: item.getRaw(),
})
if (!res.ok) {
  console.error(`publishing the module: ${res.status} ${await res.text()}`)
  process.exit(1)
}
console.log(item.id)
