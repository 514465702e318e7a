//! The CSV form of permits.
