package dev.m2mfa.bench;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Signature;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Ed25519 (EdDSA, RFC 8032) sign and verify over a 512-byte message, JDK vs BouncyCastle:
 * {@code SunEC} (the JDK provider), {@code BC} (the BouncyCastle JCA provider, keys from it) and
 * {@code BC-lightweight} (BouncyCastle's {@link Ed25519Signer} without JCA). For the choice of
 * the token signing algorithm against {@link Es256ProviderBenchmark} (docs/PERFORMANCE.md).
 *
 * <p>Run: {@code java -jar bench/target/m2mfa-benchmarks.jar Ed25519ProviderBenchmark} after
 * {@code ./mvnw -q -B -pl bench -am package -DskipTests}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class Ed25519ProviderBenchmark {
  static final Provider BC = new BouncyCastleProvider();

  @Param({"SunEC", "BC", "BC-lightweight"})
  public String provider;

  byte[] message;
  byte[] signature;
  Signature signer;
  Signature verifier;
  Ed25519Signer lightSigner;
  Ed25519Signer lightVerifier;

  @Setup
  public void setUp() throws Exception {
    message = new byte[512];
    new SecureRandom().nextBytes(message);
    if (provider.equals("BC-lightweight")) {
      Ed25519PrivateKeyParameters priv = new Ed25519PrivateKeyParameters(new SecureRandom());
      Ed25519PublicKeyParameters pub = priv.generatePublicKey();
      lightSigner = new Ed25519Signer();
      lightSigner.init(true, priv);
      lightVerifier = new Ed25519Signer();
      lightVerifier.init(false, pub);
      signature = sign();
    } else {
      Provider p = provider.equals("BC") ? BC : KeyPairGenerator.getInstance("Ed25519").getProvider();
      KeyPair keys = KeyPairGenerator.getInstance("Ed25519", p).generateKeyPair();
      signer = Signature.getInstance("Ed25519", p);
      signer.initSign(keys.getPrivate());
      verifier = Signature.getInstance("Ed25519", p);
      verifier.initVerify(keys.getPublic());
      signature = sign();
    }
    if (!verify()) throw new IllegalStateException("does not verify");
  }

  @Benchmark
  public byte[] sign() throws Exception {
    if (lightSigner != null) {
      lightSigner.update(message, 0, message.length);
      return lightSigner.generateSignature();
    }
    signer.update(message);
    return signer.sign();
  }

  @Benchmark
  public boolean verify() throws Exception {
    if (lightVerifier != null) {
      lightVerifier.update(message, 0, message.length);
      return lightVerifier.verifySignature(signature);
    }
    verifier.update(message);
    return verifier.verify(signature);
  }
}
