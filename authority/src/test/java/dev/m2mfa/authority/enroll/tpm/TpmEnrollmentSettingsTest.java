package dev.m2mfa.authority.enroll.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The authority's TPM settings: defaults without a {@code tpm/} folder, and plain errors for bad ones. */
class TpmEnrollmentSettingsTest {
  @TempDir Path dir;

  @Test
  void noFolderMeansTrustOnFirstUseWithoutAnchors() throws Exception {
    TpmEnrollmentSettings s = TpmEnrollmentSettings.load(dir);
    assertThat(s.ekCertificateAuthorities()).isEmpty();
    assertThat(s.requireEkCertificate()).isFalse();
  }

  @Test
  void requiringCertificatesWithoutAnyCaIsAConfigurationError() throws Exception {
    Files.createDirectories(dir.resolve("tpm"));
    Files.writeString(dir.resolve("tpm/tpm.conf"), "require_ek_certificate=true\n");
    assertThatThrownBy(() -> TpmEnrollmentSettings.load(dir)).isInstanceOf(IOException.class)
        .hasMessageContaining("needs at least one CA certificate in tpm/ek-ca.pem");
  }

  @Test
  void badValuesAndBadPemAreRefusedWithTheFileNamed() throws Exception {
    Files.createDirectories(dir.resolve("tpm"));
    Files.writeString(dir.resolve("tpm/tpm.conf"), "require_ek_certificate=yes\n");
    assertThatThrownBy(() -> TpmEnrollmentSettings.load(dir)).isInstanceOf(IOException.class)
        .hasMessageContaining("tpm.conf").hasMessageContaining("true or false");
    Files.writeString(dir.resolve("tpm/tpm.conf"), "require_ek_certificate=false\n");
    Files.writeString(dir.resolve("tpm/ek-ca.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    assertThatThrownBy(() -> TpmEnrollmentSettings.load(dir)).isInstanceOf(IOException.class)
        .hasMessageContaining("ek-ca.pem");
  }
}
