"""A self-signed certificate made with openssl at test time, for servers
that offer STARTTLS or direct TLS on loopback. Nothing is checked in."""

import os
import subprocess


def self_signed(directory, domain="localhost", days=2):
    """Writes DOMAIN.crt and DOMAIN.key (EC P-256) into `directory` and
    returns their paths. The names follow Prosody's certificate lookup
    (certificates/DOMAIN.crt), which ejabberd does not mind."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, f"{domain}.crt")
    key = os.path.join(directory, f"{domain}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", str(days), "-subj", f"/CN={domain}",
                    "-addext", f"subjectAltName=DNS:{domain}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def combined_pem(cert, key, path):
    """cert and key in one file: ejabberd's certfiles accept that form."""
    with open(path, "w") as out:
        for part in (cert, key):
            with open(part) as f:
                out.write(f.read())
    return path
