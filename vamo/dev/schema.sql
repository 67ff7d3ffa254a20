-- The part of AMO's MySQL schema that vamo reads (D19): table and column
-- names as AMO has them, so vamo runs against an AMO database unchanged.
-- This file creates them for the tests, the demo and the embedded default.
--
-- Written for MySQL/MariaDB; vamo/dev/schema.py translates it for SQLite. Keep to
-- its conventions: one statement per `;` at a line end, AUTO_INCREMENT only
-- as `... AUTO_INCREMENT PRIMARY KEY` on one line, UNIQUE KEY inline, other
-- indexes as CREATE INDEX. `modified` is indexed wherever the refresher asks
-- "what changed since".

CREATE TABLE translations (
  autoid int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id int unsigned NOT NULL,
  locale varchar(10) NOT NULL,
  localized_string longtext NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY translations_id_locale (id, locale)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX translations_modified ON translations (modified);

CREATE TABLE addons (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  guid varchar(255) NULL,
  slug varchar(30) NULL,
  addontype_id int unsigned NOT NULL DEFAULT 0,
  status int unsigned NOT NULL DEFAULT 0,
  inactive tinyint(1) NOT NULL DEFAULT 0,
  name int unsigned NULL,
  summary int unsigned NULL,
  current_version int unsigned NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY addons_guid (guid),
  UNIQUE KEY addons_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX addons_modified ON addons (modified);

CREATE TABLE versions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  addon_id int unsigned NOT NULL,
  version varchar(255) NOT NULL DEFAULT '',
  releasenotes int unsigned NULL,
  channel int NOT NULL DEFAULT 2,
  deleted tinyint(1) NOT NULL DEFAULT 0,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX versions_addon_id ON versions (addon_id);
CREATE INDEX versions_modified ON versions (modified);

CREATE TABLE files (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  version_id int unsigned NOT NULL,
  platform_id int unsigned NOT NULL DEFAULT 1,
  filename varchar(255) NOT NULL DEFAULT '',
  hash varchar(255) NOT NULL DEFAULT '',
  status smallint unsigned NOT NULL DEFAULT 1,
  datestatuschanged datetime NULL,
  strict_compatibility tinyint(1) NOT NULL DEFAULT 0,
  binary_components tinyint(1) NOT NULL DEFAULT 0,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX files_version_id ON files (version_id);
CREATE INDEX files_modified ON files (modified);

CREATE TABLE appversions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  application_id int unsigned NOT NULL,
  version varchar(255) NOT NULL,
  version_int bigint NOT NULL DEFAULT 0,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY appversions_application_version (application_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX appversions_modified ON appversions (modified);

CREATE TABLE applications_versions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  application_id int unsigned NOT NULL,
  version_id int unsigned NOT NULL,
  min int unsigned NOT NULL,
  max int unsigned NOT NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY applications_versions_app_version (application_id, version_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX applications_versions_version_id ON applications_versions (version_id);
CREATE INDEX applications_versions_modified ON applications_versions (modified);

CREATE TABLE compat_override (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name varchar(255) NULL,
  guid varchar(255) NOT NULL,
  addon_id int unsigned NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY compat_override_guid (guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX compat_override_addon_id ON compat_override (addon_id);
CREATE INDEX compat_override_modified ON compat_override (modified);

CREATE TABLE compat_override_range (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  compat_id int unsigned NOT NULL,
  type smallint NOT NULL DEFAULT 1,
  min_version varchar(255) NOT NULL DEFAULT '0',
  max_version varchar(255) NOT NULL DEFAULT '*',
  app_id int unsigned NOT NULL,
  min_app_version varchar(255) NOT NULL DEFAULT '0',
  max_app_version varchar(255) NOT NULL DEFAULT '*',
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX compat_override_range_compat_id ON compat_override_range (compat_id);
CREATE INDEX compat_override_range_modified ON compat_override_range (modified);

-- Filled by AMO from the compat overrides; vamo compiles the overrides itself
-- (D8) and only vamo/dev/legacy.py, which works the legacy way, uses this table.
CREATE TABLE incompatible_versions (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  version_id int unsigned NOT NULL,
  app_id int unsigned NOT NULL,
  min_app_version varchar(255) NOT NULL,
  max_app_version varchar(255) NOT NULL,
  min_app_version_int bigint NULL,
  max_app_version_int bigint NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX incompatible_versions_version_id ON incompatible_versions (version_id);
CREATE INDEX incompatible_versions_app_id ON incompatible_versions (app_id);

CREATE TABLE personas (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  addon_id int unsigned NOT NULL,
  persona_id int unsigned NOT NULL DEFAULT 0,
  header varchar(64) NULL,
  footer varchar(64) NULL,
  accentcolor varchar(10) NULL,
  textcolor varchar(10) NULL,
  display_username varchar(255) NULL,
  author varchar(255) NULL,
  checksum varchar(64) NOT NULL DEFAULT '',
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY personas_addon_id (addon_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX personas_persona_id ON personas (persona_id);
CREATE INDEX personas_modified ON personas (modified);

CREATE TABLE migrated_personas (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  lightweight_theme_id int unsigned NOT NULL,
  static_theme_id int unsigned NOT NULL,
  getpersonas_id int unsigned NOT NULL DEFAULT 0,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY migrated_personas_lightweight_theme_id (lightweight_theme_id),
  UNIQUE KEY migrated_personas_static_theme_id (static_theme_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX migrated_personas_getpersonas_id ON migrated_personas (getpersonas_id);
CREATE INDEX migrated_personas_modified ON migrated_personas (modified);

-- Blocklist (docs/blocklist.md).
CREATE TABLE bldetails (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name varchar(255) NOT NULL,
  why longtext NOT NULL,
  who longtext NOT NULL,
  bug varchar(200) NOT NULL DEFAULT '',
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE blitems (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  guid varchar(255) NULL,
  min varchar(255) NULL,
  max varchar(255) NULL,
  os varchar(255) NULL,
  severity tinyint NULL,
  details_id int unsigned NULL,
  name varchar(255) NULL,
  creator varchar(255) NULL,
  homepage_url varchar(200) NULL,
  update_url varchar(200) NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY blitems_details_id (details_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE blitemprefs (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  blitem_id int unsigned NOT NULL,
  pref varchar(255) NOT NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX blitemprefs_blitem_id ON blitemprefs (blitem_id);

CREATE TABLE blplugins (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name varchar(255) NULL,
  guid varchar(255) NULL,
  min varchar(255) NULL,
  max varchar(255) NULL,
  os varchar(255) NULL,
  xpcomabi varchar(255) NULL,
  description varchar(255) NULL,
  filename varchar(255) NULL,
  severity tinyint NULL,
  vulnerability_status tinyint unsigned NULL,
  info_url varchar(200) NULL,
  details_id int unsigned NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY blplugins_details_id (details_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE blapps (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  blitem_id int unsigned NULL,
  blplugin_id int unsigned NULL,
  guid varchar(255) NULL,
  min varchar(255) NULL,
  max varchar(255) NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX blapps_blitem_id ON blapps (blitem_id);
CREATE INDEX blapps_blplugin_id ON blapps (blplugin_id);
CREATE INDEX blapps_guid ON blapps (guid);

CREATE TABLE blgfxdrivers (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  guid varchar(255) NULL,
  os varchar(255) NULL,
  vendor varchar(255) NULL,
  devices varchar(255) NULL,
  feature varchar(255) NULL,
  feature_status varchar(255) NULL,
  driver_version varchar(255) NULL,
  driver_version_max varchar(255) NULL,
  driver_version_comparator varchar(255) NULL,
  hardware varchar(255) NULL,
  application_min varchar(255) NULL,
  application_max varchar(255) NULL,
  details_id int unsigned NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY blgfxdrivers_details_id (details_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX blgfxdrivers_guid ON blgfxdrivers (guid);

CREATE TABLE blissuercert (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  issuer longtext NOT NULL,
  serial varchar(255) NOT NULL,
  details_id int unsigned NOT NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL,
  UNIQUE KEY blissuercert_details_id (details_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE blca (
  id int unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY,
  data longtext NOT NULL,
  created datetime NOT NULL,
  modified datetime NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
