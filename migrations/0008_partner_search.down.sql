-- Reverses 0008_partner_search.up.sql (btree_gin stays, as extensions do).

DROP FUNCTION plinth_partner_matches(text, integer);
DROP TRIGGER partners_names_sync ON partners;
DROP FUNCTION plinth_partner_names_sync();
DROP TABLE partner_terms;
DROP TABLE partner_names;
DROP FUNCTION plinth_name_terms(text);
