package dev.m2mfa.api.factor;

import dev.m2mfa.api.Cidr;
import java.security.PublicKey;
import java.util.List;

/**
 * A machine as the authority recorded it at enrollment: trusted, from the authority's own
 * store, never from the request.
 */
public record EnrolledMachine(
    String name, String spiffeId, String policyClass, PublicKey identityKey, List<Cidr> networks) {
  public EnrolledMachine {
    networks = List.copyOf(networks);
  }
}
