"""The release choice and the backports fetcher's reading of apt's sources,
without the network or a server."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

from testkit import prosody, releases

FETCH = Path(releases.__file__).resolve().parent / "fetch-backports.sh"


def mirror_of(files, codename="bookworm"):
    """What fetch-backports.sh --mirror prints for an apt dir holding `files`
    ({relative path: text}); (returncode, stdout)."""
    with tempfile.TemporaryDirectory() as etc:
        os.makedirs(os.path.join(etc, "sources.list.d"))
        for name, text in files.items():
            with open(os.path.join(etc, name), "w") as f:
                f.write(text)
        env = dict(os.environ, XMPP_SIC_APT_ETC=etc, XMPP_SIC_CODENAME=codename,
                   XMPP_SIC_BACKPORTS_CACHE=os.path.join(etc, "cache"))
        out = subprocess.run(["bash", str(FETCH), "--mirror"], capture_output=True, text=True, env=env, timeout=30)
        return out.returncode, out.stdout.strip()


class Mirror(unittest.TestCase):
    def test_deb822_stanza_of_the_release(self):
        code, out = mirror_of({"sources.list.d/debian.sources": (
            "Types: deb\n# a comment\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
            "Components: main\nSigned-By: /k/security.gpg\n\n"
            "Types: deb deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
            "Components: main\nSigned-By: /k/archive.gpg\n")})
        self.assertEqual((code, out), (0, "http://mirror.example/debian /k/archive.gpg"))

    def test_one_line_entry_with_options(self):
        code, out = mirror_of({"sources.list": (
            "# deb http://old.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k/a.gpg] https://mirror.example/debian bookworm main contrib\n")})
        self.assertEqual((code, out), (0, "https://mirror.example/debian /k/a.gpg"))

    def test_one_line_entry_without_keyring_uses_debians(self):
        code, out = mirror_of({"sources.list": "deb http://mirror.example/debian bookworm main\n"})
        self.assertEqual((code, out), (0, "http://mirror.example/debian /usr/share/keyrings/debian-archive-keyring.gpg"))

    def test_another_release_only_is_refused(self):
        code, out = mirror_of({"sources.list": "deb http://mirror.example/debian trixie main\n"})
        self.assertNotEqual(code, 0)
        self.assertEqual(out, "")


class ReleaseChoice(unittest.TestCase):
    def setUp(self):
        self.saved = {k: os.environ.pop(k, None) for k in ("XMPP_SIC_PROSODY_RELEASE", "XMPP_SIC_EJABBERD_RELEASE")}

    def tearDown(self):
        for k, v in self.saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v

    def test_default_is_the_system(self):
        self.assertEqual(releases.prosody_release(), "system")
        self.assertEqual(releases.ejabberd_release(), "system")
        self.assertEqual(releases.ejabberd_code(), (None, None))

    def test_environment_chooses_when_no_argument(self):
        os.environ["XMPP_SIC_PROSODY_RELEASE"] = "13.0"
        os.environ["XMPP_SIC_EJABBERD_RELEASE"] = "23.01"
        self.assertEqual(releases.prosody_release(), "13")
        self.assertEqual(releases.ejabberd_release(), "system")
        self.assertEqual(releases.prosody_release("0.12"), "system")

    def test_unknown_release_is_an_error(self):
        with self.assertRaises(ValueError):
            releases.prosody_release("0.11")
        with self.assertRaises(ValueError):
            releases.ejabberd_release("backports")


class LuaCpath(unittest.TestCase):
    def test_default_path_is_kept(self):
        self.assertEqual(prosody.lua_cpath(["/a", "/b"]), "/a/?.so;/b/?.so;;")
        self.assertEqual(prosody.lua_cpath([]), ";;")


if __name__ == "__main__":
    unittest.main()
