-- AMO's tables as they are since 2021 (the *current* generation, D20): the
-- ones the update check reads, with AMO's names and types (addons-server's
-- models: DATETIME(6) stamps, no `files.platform_id` or
-- `files.binary_components`, one file per version, `files.filename` a path
-- `<last 2 digits of the add-on id>/<last 4>/<add-on id>/<name>`), and the
-- NOT NULL columns around them, so rows written here look like AMO's. No
-- compat override, personas or legacy blocklist tables: on this generation
-- the theme check and the blocklist are off.
--
-- Same conventions as schema.sql (vamo/dev/schema.py translates both for SQLite).
-- AMO does not index `modified`; vamo's refresher asks "what changed since"
-- of these tables every few seconds, so the indexes below are the ones an
-- operator adds to the replica vamo reads.

CREATE TABLE translations (
  autoid int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id int unsigned NOT NULL,
  locale varchar(10) NOT NULL,
  localized_string longtext NULL,
  localized_string_clean longtext NULL,
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL,
  UNIQUE KEY translations_id_locale (id, locale)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE addons (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  guid varchar(255) NULL,
  slug varchar(30) NULL,
  name int unsigned NULL,
  default_locale varchar(10) NOT NULL DEFAULT 'en-US',
  addontype_id int unsigned NOT NULL DEFAULT 1,
  status int unsigned NOT NULL DEFAULT 0,
  inactive tinyint(1) NOT NULL DEFAULT 0,
  summary int unsigned NULL,
  current_version int unsigned NULL,
  average_daily_users bigint unsigned NOT NULL DEFAULT 0,
  weekly_downloads int unsigned NOT NULL DEFAULT 0,
  total_ratings int unsigned NOT NULL DEFAULT 0,
  requires_payment tinyint(1) NOT NULL DEFAULT 0,
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL,
  UNIQUE KEY addons_guid (guid),
  UNIQUE KEY addons_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX addons_modified ON addons (modified);

CREATE TABLE versions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  addon_id int unsigned NOT NULL,
  license_id int unsigned NULL,
  releasenotes int unsigned NULL,
  approval_notes longtext NOT NULL DEFAULT '',
  version varchar(255) NOT NULL DEFAULT '',
  channel int NOT NULL DEFAULT 2,
  deleted tinyint(1) NOT NULL DEFAULT 0,
  source varchar(255) NULL,
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX versions_addon_id ON versions (addon_id);
CREATE INDEX versions_modified ON versions (modified);

CREATE TABLE files (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  version_id int unsigned NOT NULL,
  filename varchar(255) NOT NULL DEFAULT '',
  size int unsigned NOT NULL DEFAULT 0,
  hash varchar(255) NOT NULL DEFAULT '',
  original_hash varchar(255) NOT NULL DEFAULT '',
  status smallint unsigned NOT NULL DEFAULT 1,
  datestatuschanged datetime(6) NULL,
  strict_compatibility tinyint(1) NOT NULL DEFAULT 0,
  is_signed tinyint(1) NOT NULL DEFAULT 0,
  is_experiment tinyint(1) NOT NULL DEFAULT 0,
  is_mozilla_signed_extension tinyint(1) NOT NULL DEFAULT 0,
  original_status smallint unsigned NOT NULL DEFAULT 0,
  manifest_version smallint NOT NULL DEFAULT 2,
  cert_serial_num longtext NOT NULL DEFAULT '',
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL,
  UNIQUE KEY files_version_id (version_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX files_modified ON files (modified);

CREATE TABLE appversions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  application_id int unsigned NOT NULL,
  version varchar(255) NOT NULL,
  version_int bigint NOT NULL,
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL,
  UNIQUE KEY appversions_application_version (application_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX appversions_modified ON appversions (modified);

CREATE TABLE applications_versions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  application_id int unsigned NOT NULL,
  version_id int unsigned NOT NULL,
  min int unsigned NOT NULL,
  max int unsigned NOT NULL,
  originated_from smallint unsigned NULL,
  created datetime(6) NOT NULL,
  modified datetime(6) NOT NULL,
  UNIQUE KEY applications_versions_app_version (application_id, version_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX applications_versions_version_id ON applications_versions (version_id);
CREATE INDEX applications_versions_modified ON applications_versions (modified);
