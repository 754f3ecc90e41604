import type { Notification } from '../push-message.js';
import { languageOf, type Language } from './locale.js';
import type { ActionLabels, Templates, Text } from './template.js';
import { DE, DE_ACTIONS } from './templates-de.js';
import { EN, EN_ACTIONS } from './templates-en.js';

const TEMPLATES: Record<Language, { text: Templates; actions: ActionLabels }> = {
  en: { text: EN, actions: EN_ACTIONS },
  de: { text: DE, actions: DE_ACTIONS },
};

/** The title and body of a notification in the user's locale (English when unknown). */
export function localizedText(notification: Notification, locale: string | null | undefined): Text {
  return TEMPLATES[languageOf(locale)].text[notification.type](notification);
}

export function actionLabels(locale: string | null | undefined): ActionLabels {
  return TEMPLATES[languageOf(locale)].actions;
}
