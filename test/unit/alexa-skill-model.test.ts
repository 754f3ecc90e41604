import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { servedIntents } from '../../src/voice/alexa-skill/handlers.js';
import { SPOKEN_COMMANDS } from '../../src/voice/alexa-skill/run-capability.js';
import { PROPERTIES } from '../../src/voice/alexa-skill/state-facts.js';

type Model = {
  interactionModel: {
    languageModel: {
      invocationName: string;
      intents: { name: string; slots?: { name: string; type: string }[]; samples: string[] }[];
      types: { name: string; values: { id?: string; name: { value: string } }[] }[];
    };
    dialog: { intents: { name: string; slots: { name: string; prompts: { elicitation?: string } }[] }[] };
    prompts: { id: string }[];
  };
};

describe.each(['en-US', 'de-DE'])('deploy/alexa-skill/interactionModel.%s.json', (locale) => {
  const model = (JSON.parse(readFileSync(new URL(`../../deploy/alexa-skill/interactionModel.${locale}.json`, import.meta.url), 'utf8')) as Model).interactionModel;
  const { intents, types } = model.languageModel;
  const ids = (type: string) => types.find((t) => t.name === type)!.values.map((v) => v.id).sort();

  it('names exactly the intents the handler registry serves', () => {
    expect(intents.map((i) => i.name).sort()).toEqual(servedIntents().sort());
  });

  it('resolves commands and properties to ids the skill knows', () => {
    expect(ids('CommandName')).toEqual(Object.keys(SPOKEN_COMMANDS).sort());
    expect(ids('StateProperty')).toEqual(Object.keys(PROPERTIES).sort());
  });

  it.each(['RunCapabilityIntent', 'ActivateSceneIntent'])('%s asks for the PIN as AMAZON.FOUR_DIGIT_NUMBER, with a prompt the dialog model names', (name) => {
    const run = intents.find((i) => i.name === name)!;
    expect(run.slots).toContainEqual(expect.objectContaining({ name: 'pin', type: 'AMAZON.FOUR_DIGIT_NUMBER' }));
    const pin = model.dialog.intents.find((i) => i.name === name)!.slots.find((s) => s.name === 'pin')!;
    expect(model.prompts.map((p) => p.id)).toContain(pin.prompts.elicitation);
  });

  it('uses in its samples only the slots each intent declares', () => {
    for (const intent of intents) {
      const declared = new Set((intent.slots ?? []).map((s) => s.name));
      for (const sample of intent.samples) for (const [, slot] of sample.matchAll(/\{(\w+)\}/g)) expect(declared, `${intent.name}: ${sample}`).toContain(slot);
    }
  });
});
