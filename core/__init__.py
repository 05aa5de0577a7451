"""Cross-cutting foundations: settings, database, ids, clock, money, i18n, crypto, bus."""
