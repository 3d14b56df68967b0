# Writes a private key in cosign's encrypted format (ENCRYPTED SIGSTORE PRIVATE KEY:
# go-securesystemslib's JSON of scrypt N=32768 r=8 p=1 + NaCl secretbox over the PKCS#8
# DER), with libsodium (PyNaCl, Debian python3-nacl) and Python's scrypt: an
# implementation independent of ours. Usage: cosign-keygen.py <pkcs8.der> <password file>
import base64, hashlib, json, os, sys, textwrap
import nacl.secret
der = open(sys.argv[1], 'rb').read()
password = open(sys.argv[2], 'rb').read()
salt, nonce = os.urandom(32), os.urandom(24)
key = hashlib.scrypt(password, salt=salt, n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32)
box = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
doc = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
       "ciphertext": base64.b64encode(box).decode()}
body = base64.b64encode(json.dumps(doc).encode()).decode()
sys.stdout.write("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + "\n".join(textwrap.wrap(body, 64)) + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
