-- Reverses 0005_files.
DROP TABLE files;
