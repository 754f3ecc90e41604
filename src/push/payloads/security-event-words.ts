import type { SecurityEventType } from '../../core/audit-log.js';
import type { Language } from './locale.js';

/**
 * Each type of the audit log in words, per language: what a security alert
 * says happened. A record over every type, so that a new type without words
 * does not compile.
 */
const WORDS: Record<SecurityEventType, Record<Language, string>> = {
  TENANT_CREATED: { en: 'tenant created', de: 'Mandant angelegt' },
  USER_CREATED: { en: 'user created', de: 'Benutzer angelegt' },
  MEMBERSHIP_CREATED: { en: 'member added', de: 'Mitglied hinzugefügt' },
  DEVICE_CREATED: { en: 'device added', de: 'Gerät hinzugefügt' },
  DEVICE_SECRET_ROTATED: { en: 'device secret renewed', de: 'Geräte-Geheimnis erneuert' },
  DEVICE_STATUS_CHANGED: { en: 'device status changed', de: 'Gerätestatus geändert' },
  DEVICE_UPDATED: { en: 'device changed', de: 'Gerät geändert' },
  DEVICE_REMOVED: { en: 'device removed', de: 'Gerät entfernt' },
  DATA_PURGED: { en: 'device data deleted', de: 'Gerätedaten gelöscht' },
  RETENTION_CHANGED: { en: 'data retention changed', de: 'Aufbewahrungsdauer geändert' },
  APP_CREATED: { en: 'app credential created', de: 'App-Zugang angelegt' },
  APP_SECRET_ROTATED: { en: 'app secret renewed', de: 'App-Geheimnis erneuert' },
  APP_DELETED: { en: 'app credential deleted', de: 'App-Zugang gelöscht' },
  MEMBERSHIP_REMOVED: { en: 'member removed', de: 'Mitglied entfernt' },
  MEMBER_ROLE_CHANGED: { en: 'member\'s role changed', de: 'Rolle eines Mitglieds geändert' },
  INVITATION_CREATED: { en: 'invitation sent', de: 'Einladung verschickt' },
  INVITATION_REVOKED: { en: 'invitation revoked', de: 'Einladung zurückgezogen' },
  INVITATION_ACCEPTED: { en: 'invitation accepted', de: 'Einladung angenommen' },
  LOGIN: { en: 'sign-in', de: 'Anmeldung' },
  LOGIN_FAILED: { en: 'failed sign-in', de: 'fehlgeschlagene Anmeldung' },
  LOCKOUT: { en: 'sign-in locked after repeated failures', de: 'Anmeldung nach wiederholten Fehlversuchen gesperrt' },
  DEVICE_CONNECT: { en: 'device connected', de: 'Gerät verbunden' },
  DEVICE_AUTH_FAILED: { en: 'device failed to sign in', de: 'Geräte-Anmeldung fehlgeschlagen' },
  DEVICE_TOPIC_VIOLATION: { en: 'device used a topic it may not', de: 'Gerät hat ein unerlaubtes Topic benutzt' },
  REFRESH_TOKEN_REUSE: { en: 'a used sign-in token was presented again', de: 'ein schon benutztes Anmelde-Token wurde erneut vorgelegt' },
  SESSION_REVOKED: { en: 'session ended', de: 'Sitzung beendet' },
  COMMAND_SENT: { en: 'command sent', de: 'Befehl gesendet' },
  VOICE_INTENT: { en: 'voice request', de: 'Sprachanfrage' },
  VOICE_REQUEST_REFUSED: { en: 'voice request refused as not genuine', de: 'Sprachanfrage als nicht echt abgewiesen' },
  PIN_FAILED: { en: 'wrong voice PIN', de: 'falsche Sprach-PIN' },
  PIN_LOCKOUT: { en: 'voice PIN locked', de: 'Sprach-PIN gesperrt' },
  VOICE_PIN_SET: { en: 'voice PIN set', de: 'Sprach-PIN festgelegt' },
  VOICE_PIN_RESET: { en: 'voice PIN reset', de: 'Sprach-PIN zurückgesetzt' },
  VOICE_POLICY_CHANGED: { en: 'voice policy changed', de: 'Sprachrichtlinie geändert' },
  VOICE_GRANT_ACCEPTED: { en: 'voice assistant allowed to report to its platform', de: 'Sprachassistent darf an seine Plattform melden' },
  VOICE_GRANT_DROPPED: { en: 'voice assistant\'s reporting permission dropped', de: 'Meldeerlaubnis des Sprachassistenten entfernt' },
  APPROVAL_REQUESTED: { en: 'approval requested', de: 'Freigabe angefordert' },
  APPROVAL_POLICY_CHANGED: { en: 'approval policy changed', de: 'Freigaberichtlinie geändert' },
  COMMAND_APPROVED: { en: 'command approved', de: 'Befehl freigegeben' },
  COMMAND_DENIED: { en: 'command denied', de: 'Befehl abgelehnt' },
  PUSH_TOKEN_MOVED: { en: 'push token moved to another user', de: 'Push-Token zu einem anderen Benutzer umgezogen' },
  NOTIFICATION_RULES_CHANGED: { en: 'notification rules changed', de: 'Benachrichtigungsregeln geändert' },
  PUSH_DEAD_LETTER_RETRIED: { en: 'failed notification sent again', de: 'fehlgeschlagene Benachrichtigung erneut gesendet' },
  PUSH_CREDENTIAL_REFUSED: { en: 'push provider refused the credential', de: 'Push-Anbieter hat die Zugangsdaten abgelehnt' },
  PUSH_CREDENTIAL_SET: { en: 'push credential set', de: 'Push-Zugangsdaten gesetzt' },
  SCENE_CHANGED: { en: 'scene changed', de: 'Szene geändert' },
  SCENE_ACTIVATED: { en: 'scene activated', de: 'Szene aktiviert' },
  AUTOMATION_CHANGED: { en: 'automation changed', de: 'Automatisierung geändert' },
  AUTOMATION_RUN: { en: 'automation ran', de: 'Automatisierung ausgeführt' },
  AUTOMATION_LOOP_STOPPED: { en: 'automation stopped: it kept triggering itself', de: 'Automatisierung gestoppt: sie löste sich immer wieder selbst aus' },
  TENANT_TIME_ZONE_CHANGED: { en: 'time zone changed', de: 'Zeitzone geändert' },
  VOICE_CREDENTIAL_SET: { en: 'voice assistant credential set', de: 'Zugangsdaten für Sprachassistenten gesetzt' },
};

/** A security event's type in words; one the table lacks (a stored notification of a retired type) is its code, spelled out. */
export function securityEventWords(kind: string | undefined, language: Language): string {
  if (kind && kind in WORDS) return WORDS[kind as SecurityEventType][language];
  return kind ? kind.toLowerCase().replaceAll('_', ' ') : { en: 'unknown', de: 'unbekannt' }[language];
}
