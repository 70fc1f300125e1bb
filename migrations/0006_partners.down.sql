-- Reverses 0006_partners.up.sql (btree_gist stays, as extensions do).

DROP TABLE partners;
