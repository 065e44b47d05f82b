package dev.m2mfa.authority.ssh;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.authority.Authority;
import dev.m2mfa.authority.AuthorityConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Authority directories and the SSH CA: created at init, added on open to directories made before it existed. */
class SshCaUpgradeTest {
  static final char[] PASS = "operator passphrase".toCharArray();
  @TempDir Path tmp;

  @Test
  void initCreatesBothCasAndOpenUsesThem() throws Exception {
    Path dir = tmp.resolve("a");
    Authority.init(dir, AuthorityConfig.defaults(), PASS, "ops");
    String user = Files.readString(dir.resolve("ca/ssh_user_ca.pub"));
    try (Authority a = Authority.open(dir, PASS, c -> c)) {
      assertThat(user).startsWith(a.ssh().ca().userCaLine() + " ");
      assertThat(a.ssh().krl()).startsWith("SSHKRL\n\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }
  }

  @Test
  void directoryFromBeforeTheSshCaGetsItOnOpenWithTheConfiguredAlgorithm() throws Exception {
    Path dir = tmp.resolve("old");
    Authority.init(dir, AuthorityConfig.defaults(), PASS, "ops");
    for (String f : new String[] {"ssh_user_ca.key", "ssh_user_ca.pub", "ssh_host_ca.key", "ssh_host_ca.pub"}) {
      Files.delete(dir.resolve("ca").resolve(f));
    }
    Files.writeString(dir.resolve("authority.conf"), "ssh.ca_algorithm=ecdsa-p256\n", StandardOpenOption.APPEND);
    String first;
    try (Authority a = Authority.open(dir, PASS, c -> c)) {
      first = a.ssh().ca().userCaLine();
      assertThat(first).startsWith("ecdsa-sha2-nistp256 ");
      assertThat(a.ssh().ca().hostCaLine()).startsWith("ecdsa-sha2-nistp256 ");
    }
    try (Authority a = Authority.open(dir, PASS, c -> c)) {
      assertThat(a.ssh().ca().userCaLine()).isEqualTo(first);
    }
  }
}
