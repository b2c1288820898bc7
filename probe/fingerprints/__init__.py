"""The fingerprint set shipped with Crenel: data files only, loaded by `probe.references`.

- `censoredplanet_blockpage_signatures.json`, `censoredplanet_false_positive_signatures.json`:
  Censored Planet's signatures (Apache-2.0; see NOTICE and LICENSE-Apache-2.0), unmodified.
- `crenel_cdn_challenges.json`: Crenel's own CDN challenge and bot-check page signatures, all
  false positives (a site refusing a client is not a censor blocking it).
"""
