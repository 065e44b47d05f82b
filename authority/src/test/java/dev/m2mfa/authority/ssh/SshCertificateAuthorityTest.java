package dev.m2mfa.authority.ssh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.testkit.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SSH CA keys at rest and the certificates they sign, read back by {@code ssh-keygen -L}. */
class SshCertificateAuthorityTest {
  static final char[] PASS = "operator passphrase".toCharArray();
  @TempDir Path tmp;

  @Test
  void keysAreCreatedEncryptedAndReopenToTheSameCas() throws Exception {
    SshCertificateAuthority first = SshCertificateAuthority.openOrCreate(tmp, SshConfig.ED25519, PASS);
    for (String n : List.of("ssh_user_ca", "ssh_host_ca")) {
      Path key = tmp.resolve(n + ".key");
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
      assertThat(Files.readString(key)).startsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----");
    }
    assertThat(first.userCaLine()).startsWith("ssh-ed25519 ").isNotEqualTo(first.hostCaLine());
    SshCertificateAuthority again = SshCertificateAuthority.openOrCreate(tmp, SshConfig.ED25519, PASS);
    assertThat(again.userCaLine()).isEqualTo(first.userCaLine());
    assertThat(again.hostCaLine()).isEqualTo(first.hostCaLine());
    // the algorithm option only applies to keys that do not exist yet
    assertThat(SshCertificateAuthority.openOrCreate(tmp, SshConfig.ECDSA_P256, PASS).userCaLine()).isEqualTo(first.userCaLine());
  }

  @Test
  void wrongPassphraseAndSwappedPublicKeyAreRefused() throws Exception {
    SshCertificateAuthority.openOrCreate(tmp, SshConfig.ED25519, PASS);
    assertThatThrownBy(() -> SshCertificateAuthority.openOrCreate(tmp, SshConfig.ED25519, "wrong".toCharArray()))
        .isInstanceOf(KeyFiles.WrongPassphraseException.class);
    Files.copy(tmp.resolve("ssh_host_ca.pub"), tmp.resolve("ssh_user_ca.pub"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThatThrownBy(() -> SshCertificateAuthority.openOrCreate(tmp, SshConfig.ED25519, PASS))
        .hasMessageContaining("does not belong to");
  }

  @Test
  void ecdsaCaSignsCertificatesThatSshKeygenReads() throws Exception {
    ExternalTool.require("openssh-client", "/usr/bin/ssh-keygen");
    SshCertificateAuthority ca = SshCertificateAuthority.openOrCreate(tmp, SshConfig.ECDSA_P256, PASS);
    assertThat(ca.userCaLine()).startsWith("ecdsa-sha2-nistp256 ");
    var subject = SshCertificateAuthority.generate(SshConfig.ED25519);
    Instant now = Instant.now();
    var grant = new SshGrantPolicy.Grant(List.of("deploy", "backup"), now.minusSeconds(60), now.plus(Duration.ofMinutes(10)),
        new TreeMap<>(Map.of("source-address", "10.1.0.0/16,192.0.2.7/32", "force-command", "/usr/bin/true")),
        new TreeMap<>(Map.of("permit-pty", "", "permit-port-forwarding", "")));
    Path cert = tmp.resolve("k-cert.pub");
    Files.writeString(cert, PublicKeyEntry.toString(ca.signUser(subject.getPublic(), 99, "m2mfa:spiffe://t/machine/x:99", grant)) + "\n");
    ExternalTool.Result r = ExternalTool.run(30, List.of("/usr/bin/ssh-keygen", "-L", "-f", cert.toString()));
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output()).contains("user certificate").contains("Signing CA: ECDSA").contains("Serial: 99")
        .contains("Key ID: \"m2mfa:spiffe://t/machine/x:99\"").contains("deploy").contains("backup")
        .contains("source-address 10.1.0.0/16,192.0.2.7/32").contains("force-command /usr/bin/true")
        .contains("permit-port-forwarding").contains("permit-pty").doesNotContain("permit-X11-forwarding");
  }
}
