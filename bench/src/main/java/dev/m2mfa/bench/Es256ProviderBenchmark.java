package dev.m2mfa.bench;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.ECGenParameterSpec;
import java.util.concurrent.TimeUnit;
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
 * ES256 (ECDSA P-256 with SHA-256, DER signatures) sign and verify over a 512-byte message
 * (the size of a token's signing input), JDK vs BouncyCastle:
 *
 * <ul>
 * <li>{@code SunEC}: the JDK's provider, keys from its own generator (what JSSE uses).</li>
 * <li>{@code BC}: BouncyCastle 1.87 ({@code new BouncyCastleProvider()}, not registered), keys
 *     from BouncyCastle.</li>
 * <li>{@code BC-jdk-keys}: BouncyCastle with key objects the JDK made, so each {@code init}
 *     converts the key to BouncyCastle's form. The authority and the agent do this (the token
 *     signing key, the transcript keys); the verifier converts its keys to BC objects once.</li>
 * </ul>
 *
 * Each thread keeps its {@link Signature} objects; {@code sign} re-uses the initialized signer,
 * {@code verify} the initialized verifier; {@code signInit}/{@code verifyInit} add
 * {@code getInstance} and {@code init} per call, as the m2mfa code does.
 *
 * <p>Run: {@code java -jar bench/target/m2mfa-benchmarks.jar Es256ProviderBenchmark} after
 * {@code ./mvnw -q -B -pl bench -am package -DskipTests}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC"})
public class Es256ProviderBenchmark {
  static final Provider BC = new BouncyCastleProvider();

  @Param({"SunEC", "BC", "BC-jdk-keys"})
  public String provider;

  Provider signatureProvider;
  KeyPair keys;
  byte[] message;
  byte[] signature;
  Signature signer;
  Signature verifier;

  @Setup
  public void setUp() throws Exception {
    Provider keyProvider = provider.equals("BC") ? BC : KeyPairGenerator.getInstance("EC").getProvider();
    signatureProvider = provider.equals("SunEC") ? Signature.getInstance("SHA256withECDSA").getProvider() : BC;
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC", keyProvider);
    g.initialize(new ECGenParameterSpec("secp256r1"));
    keys = g.generateKeyPair();
    message = new byte[512];
    new SecureRandom().nextBytes(message);
    signer = Signature.getInstance("SHA256withECDSA", signatureProvider);
    signer.initSign(keys.getPrivate());
    verifier = Signature.getInstance("SHA256withECDSA", signatureProvider);
    verifier.initVerify(keys.getPublic());
    signer.update(message);
    signature = signer.sign();
    verifier.update(message);
    if (!verifier.verify(signature)) throw new IllegalStateException("does not verify");
  }

  @Benchmark
  public byte[] sign() throws SignatureException {
    signer.update(message);
    return signer.sign();
  }

  @Benchmark
  public boolean verify() throws SignatureException {
    verifier.update(message);
    return verifier.verify(signature);
  }

  @Benchmark
  public byte[] signInit() throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSA", signatureProvider);
    s.initSign(keys.getPrivate());
    s.update(message);
    return s.sign();
  }

  @Benchmark
  public boolean verifyInit() throws Exception {
    Signature s = Signature.getInstance("SHA256withECDSA", signatureProvider);
    s.initVerify(keys.getPublic());
    s.update(message);
    return s.verify(signature);
  }
}
