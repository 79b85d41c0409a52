"""The shared EHE child index: tables, migrations, loading and queries."""
