package dev.m2mfa.agent.posture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.m2mfa.api.posture.Measurement;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PackageCollectorTest {
  @TempDir Path dir;

  @Test
  void onlyInstalledPackagesCountAndMultiarchNamesStayDistinct() throws Exception {
    Path status = dir.resolve("status");
    Files.writeString(status, """
        Package: nmap
        Status: install ok installed
        Architecture: amd64
        Version: 7.93+dfsg1-1
        Description: The Network Mapper
         a continuation line: Package: fake
        
        Package: telnet
        Status: deinstall ok config-files
        Architecture: amd64
        Version: 0.17+2.4-2
        
        Package: libc6
        Status: install ok installed
        Architecture: amd64
        Version: 2.36-9
        
        Package: libc6
        Status: install ok installed
        Architecture: i386
        Version: 2.36-9
        """);
    List<Measurement> got = PackageCollector.dedupe(PackageCollector.dpkg(status));
    assertThat(got).containsExactlyInAnyOrder(new Measurement(Measurement.Kind.PACKAGE, "nmap", "7.93+dfsg1-1"),
        new Measurement(Measurement.Kind.PACKAGE, "libc6:amd64", "2.36-9"), new Measurement(Measurement.Kind.PACKAGE, "libc6:i386", "2.36-9"));
  }

  @Test
  void theRealDpkgDatabaseIsRead() throws Exception {
    if (!Files.isRegularFile(PackageCollector.DPKG_STATUS)) return; // not a Debian system: nothing to read
    List<Measurement> got = new PackageCollector().collect();
    assertThat(got).extracting(Measurement::key).anyMatch(k -> k.equals("dpkg") || k.startsWith("dpkg:"));
  }
}
