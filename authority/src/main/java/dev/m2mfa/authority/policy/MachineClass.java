package dev.m2mfa.authority.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A compiled class of machine: its ordered levels (weakest first), the minimum level per
 * audience and its responses to events.
 *
 * @param name the class name machines are enrolled with
 * @param levels weakest first; never empty; names distinct
 * @param audiences audience -> minimum level name; the key {@code "*"} is the default for any
 *     other audience; without it, other audiences need only the lowest level
 * @param responses what events do
 * @param origin where the class was defined ({@code file:line}), for explanations
 * @param ssh the class's {@code ssh:} block, if it has one (OpenSSH certificate principals,
 *     lifetimes, force-command, minimum level); without one the SSH CA uses authority.conf
 */
public record MachineClass(String name, List<Level> levels, Map<String, String> audiences, Responses responses, String origin,
    Optional<SshGrant> ssh) {
  /** The audience key that matches every audience not named explicitly. */
  public static final String ANY_AUDIENCE = "*";

  public MachineClass {
    levels = List.copyOf(levels);
    audiences = Map.copyOf(audiences);
    if (levels.isEmpty()) throw new IllegalArgumentException("class " + name + " has no levels");
    for (int i = 0; i < levels.size(); i++) {
      if (levels.get(i).rank() != i) throw new IllegalArgumentException("level ranks must be 0..n-1 in order");
    }
    List<String> names = levels.stream().map(Level::name).toList();
    if (java.util.Set.copyOf(names).size() != names.size()) throw new IllegalArgumentException("level names must be distinct");
    for (String target : audiences.values()) {
      if (!names.contains(target)) throw new IllegalArgumentException("audience points at unknown level " + target);
    }
    if (ssh.flatMap(SshGrant::minLevel).filter(l -> !names.contains(l)).isPresent()) {
      throw new IllegalArgumentException("ssh min_level points at an unknown level");
    }
  }

  /** A class without an {@code ssh:} block. */
  public MachineClass(String name, List<Level> levels, Map<String, String> audiences, Responses responses, String origin) {
    this(name, levels, audiences, responses, origin, Optional.empty());
  }

  public Optional<Level> level(String levelName) {
    for (Level l : levels) if (l.name().equals(levelName)) return Optional.of(l);
    return Optional.empty();
  }

  /** The level whose {@code acr} is {@code acr}, if this class has one. */
  public Optional<Level> levelForAcr(String acr) {
    for (Level l : levels) if (l.acr().equals(acr)) return Optional.of(l);
    return Optional.empty();
  }

  public Level lowest() {
    return levels.getFirst();
  }

  public Level highest() {
    return levels.getLast();
  }

  /** The minimum level for {@code audience}: its own rule, else the {@code "*"} rule, else the lowest level. */
  public Level minimumFor(String audience) {
    String target = audience == null ? null : audiences.get(audience);
    if (target == null) target = audiences.get(ANY_AUDIENCE);
    return target == null ? lowest() : level(target).orElseThrow();
  }

  /** Why {@link #minimumFor} chose its level, in words. */
  public String audienceRuleFor(String audience) {
    if (audience != null && audiences.containsKey(audience)) return "audience '" + audience + "' requires " + audiences.get(audience);
    if (audiences.containsKey(ANY_AUDIENCE)) return "audience '" + audience + "' is not listed; \"*\" requires " + audiences.get(ANY_AUDIENCE);
    return "audience '" + audience + "' is not listed and there is no \"*\" rule; the lowest level applies";
  }
}
