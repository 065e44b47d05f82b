package dev.m2mfa.api.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyFilesTest {
  static final char[] PASS = "a long operator passphrase".toCharArray();
  @TempDir Path dir;

  @Test
  void roundTripIsPrivateAndStandardPkcs8() throws Exception {
    KeyPair kp = KeyFiles.newP256();
    Path f = dir.resolve("k.pem");
    KeyFiles.writeEncrypted(f, kp.getPrivate(), PASS);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
    String pem = Files.readString(f);
    assertThat(pem).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----").doesNotContain(new String(PASS));
    assertThat(KeyFiles.readEncrypted(f, PASS)).isEqualTo(kp.getPrivate());
  }

  @Test
  void wrongPassphraseAndTamperingFailTheSameWayWithoutDetail() throws Exception {
    Path f = dir.resolve("k.pem");
    KeyFiles.writeEncrypted(f, KeyFiles.newP256().getPrivate(), PASS);
    assertThatThrownBy(() -> KeyFiles.readEncrypted(f, "wrong".toCharArray()))
        .isInstanceOf(KeyFiles.WrongPassphraseException.class).hasMessage("the passphrase does not open this key");
    String pem = Files.readString(f);
    int mid = pem.length() / 2;
    char flipped = pem.charAt(mid) == 'A' ? 'B' : 'A';
    Path t = dir.resolve("t.pem");
    Files.writeString(t, pem.substring(0, mid) + flipped + pem.substring(mid + 1));
    assertThatThrownBy(() -> KeyFiles.readEncrypted(t, PASS)).isInstanceOf(KeyFiles.WrongPassphraseException.class);
  }

  @Test
  void atomicWriteReplacesWholeFiles() throws Exception {
    Path f = dir.resolve("state");
    KeyFiles.writeAtomically(f, "one".getBytes(), "rw-------");
    KeyFiles.writeAtomically(f, "two".getBytes(), "rw-------");
    assertThat(Files.readString(f)).isEqualTo("two");
    try (var s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("state");
    }
  }
}
