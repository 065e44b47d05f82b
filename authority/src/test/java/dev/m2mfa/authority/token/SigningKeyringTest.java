package dev.m2mfa.authority.token;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import dev.m2mfa.api.pki.KeyFiles;
import dev.m2mfa.authority.store.JdbcStore;
import dev.m2mfa.authority.store.SigningKeyRecord;
import dev.m2mfa.authority.store.Store;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SigningKeyringTest {
  static final char[] PASS = "operator passphrase".toCharArray();
  @TempDir Path dir;

  @Test
  void rotationKeepsTheOldKeyPublishedAndSignsWithTheNewOne() {
    try (Store store = JdbcStore.openSqlite(dir.resolve("k.db"))) {
      SigningKeyring ring = new SigningKeyring(store, PASS, Duration.ofMinutes(5));
      String first = ring.primary().kid();
      String second = ring.rotate();
      assertThat(second).isNotEqualTo(first);
      assertThat(ring.primary().kid()).isEqualTo(second);
      assertThat(ring.jwksJson()).contains(first).contains(second);
    }
  }

  @Test
  void aKeyRowForgedInTheDatabaseIsNeverPublished() throws Exception {
    try (Store store = JdbcStore.openSqlite(dir.resolve("k.db"))) {
      SigningKeyring ring = new SigningKeyring(store, PASS, Duration.ofMinutes(5));
      String genuineEncrypted = store.signingKeys().all().getFirst().encryptedPrivateKey();
      KeyPair attacker = KeyFiles.newP256();
      ECKey attackerJwk = new ECKey.Builder(Curve.P_256, (ECPublicKey) attacker.getPublic()).keyIDFromThumbprint().build();
      long now = System.currentTimeMillis();
      // a retired row with the attacker's public key, borrowing a genuine encrypted private key
      store.signingKeys().insert(new SigningKeyRecord(attackerJwk.getKeyID(), attackerJwk.toJSONString(), genuineEncrypted, now - 10, now - 5, now + 600_000));
      // and one encrypted under a passphrase the attacker chose
      KeyPair other = KeyFiles.newP256();
      ECKey otherJwk = new ECKey.Builder(Curve.P_256, (ECPublicKey) other.getPublic()).keyIDFromThumbprint().build();
      store.signingKeys().insert(new SigningKeyRecord(otherJwk.getKeyID(), otherJwk.toJSONString(),
          KeyFiles.encryptToPem(other.getPrivate(), "attacker".toCharArray()), now - 10, now - 5, now + 600_000));
      ring.reload();
      assertThat(JWKSet.parse(ring.jwksJson()).getKeys()).extracting(k -> k.getKeyID())
          .doesNotContain(attackerJwk.getKeyID(), otherJwk.getKeyID()).hasSize(1);
    }
  }

  @Test
  void aWrongPassphraseCannotStartTheKeyring() {
    try (Store store = JdbcStore.openSqlite(dir.resolve("k.db"))) {
      new SigningKeyring(store, PASS, Duration.ofMinutes(5));
      assertThatThrownBy(() -> new SigningKeyring(store, "wrong".toCharArray(), Duration.ofMinutes(5)))
          .isInstanceOf(IllegalStateException.class).hasMessageNotContaining("wrong");
    }
  }
}
