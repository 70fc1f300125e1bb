-- Reverses 0004_companies.up.sql.

DROP TABLE companies;
