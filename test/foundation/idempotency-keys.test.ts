import { ONBOARDING_STEPS, type OnboardingStepName } from '../../common/onboarding-messages';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as nodeBuild from '../../workflows/idempotency';

// Keys recorded from the hand-written SHA-1 implementation before it was replaced by the `uuid` package
// (commit 3eec1ca). A running onboarding re-derives its keys on every retry and replay: if any of these
// changed, an in-flight customer would send a new Idempotency-Key and Layers would apply a write twice.
const RECORDED_KEYS: Array<{
  workflowId: string;
  keys: Record<OnboardingStepName, [string, string, string, string]>;
}> = [
  {
    workflowId: 'onboarding/acme-coffee',
    keys: {
      preflight: [
        'e7290af9-850e-5e50-83c2-8d09ee25c460',
        '3fa51fdd-32c3-51a3-8a04-5e4fa2307795',
        '1364333b-4c7a-57e7-85dc-5f22c962879f',
        '86d1fe86-75d3-57d0-8e2f-ff2242e4117d',
      ],
      'create-org': [
        'ca7ba2f8-657a-5ce4-aae1-9d32bcbab95c',
        'b2b1e4cc-c7b4-5b27-8db9-d1f1741d7804',
        'd22ba165-eb75-5130-906f-43526667f45d',
        '0e8a33c3-8fb9-5842-a463-9735d8a12f1e',
      ],
      'mint-key': [
        '1e99cd2a-2a63-5a13-bfd5-35dc725cfe88',
        'ed7d67d7-63a7-5f89-9071-5e3dc77ffeff',
        '9006986b-9364-5eb3-80f9-4f8ef73078ff',
        '367b8323-6566-5e70-86cc-589ddf8b6fae',
      ],
      'allocate-credits': [
        '54fd150b-d35f-5aa0-acc5-dcf215b0639e',
        '139a5e6a-af70-5bc4-9657-5fd785ca4ccb',
        'eaab118e-4431-51a4-b5e9-128bae89dfdd',
        '37ac2bff-678a-5c0e-8340-d131b7275b1f',
      ],
      'credit-config': [
        '22c03638-e067-5b0b-9b61-718915ec025f',
        '34439619-cd85-5169-90e5-143d6a3fa66c',
        '9f023be9-3ae3-515f-b448-ad57fee5610a',
        '171f9ded-df99-5383-b79a-872cd5cff1fc',
      ],
      firehose: [
        'fc26fda1-26b0-55aa-86f3-0dc7a05d3745',
        '8857f4f0-eac8-588b-accd-28fc9571adcb',
        '2bc4882f-5a40-507c-88aa-9a8dc00493c2',
        'd8e9372d-26cd-513d-ba02-1efa858ee3da',
      ],
      project: [
        '0f9381b8-0726-5904-ae51-91895e9d1796',
        '8258c5fe-d279-54c4-94bc-61b811cf882e',
        '2ad9ade6-8c0b-547d-ba0b-1fa0402ab42e',
        'bfaf5ef0-5220-59f0-b971-bac5f949f255',
      ],
      verify: [
        '9577c6d4-b549-52cc-83ac-4b21e39568b2',
        '1f946575-8837-5b60-a61c-d8284864a4d4',
        '127441ed-37ed-5de3-b06c-a80a05537f58',
        '15d40dbc-3c0e-5687-8917-8993cb1fe621',
      ],
    },
  },
  {
    workflowId: 'onboarding/A',
    keys: {
      preflight: [
        '08dfe7d0-8938-535c-a188-039af62b87a4',
        'bcd9f87f-b13c-5b83-9f2c-45bb754092c2',
        'bf58e43d-e38f-5836-a5c4-1890c19ea5b4',
        '3caebee6-8a54-54f0-8353-d6328cd06c6e',
      ],
      'create-org': [
        '2e0be55d-96bf-5e9c-b9b8-e748fb9a5f8f',
        'cbd7a00d-7963-56c3-a00b-73dd06a0cef2',
        'ab19a17a-8928-5ecc-bbbf-feecb101ff3a',
        '9605ead5-4968-5459-9913-d3552d372a38',
      ],
      'mint-key': [
        '148c5d45-5c48-5429-a981-5673dd8c02d9',
        '5a3ded51-357d-57b6-8418-06e7f8eafe0d',
        'dcfbcfb6-128a-5d83-bc54-4d2a5e5318a6',
        '67e8ac68-c8cb-5813-b49c-0862d9f8950e',
      ],
      'allocate-credits': [
        'ef3a9b4d-d010-51a5-a853-93ca356ec38c',
        '700c1236-f6b1-5938-84ca-b2f459228256',
        '2c4dd457-0929-59a3-aec5-bc23845ed9ce',
        'fe7b7c0f-0b06-5473-b99f-09be050acbc3',
      ],
      'credit-config': [
        'a41c65d4-1cfb-5f56-ac19-3dc5bb0e0db9',
        'd03de016-9702-50c8-a2e4-323f735b4125',
        '7eb29152-b0c1-5bc9-aebe-4f95e9997962',
        '01f35fa2-403e-5e33-a8a2-3896a27f5a13',
      ],
      firehose: [
        'b431b3c5-e8b5-571f-bac9-731f78e36355',
        'ae50c6c4-a6e2-5ef9-91ea-a8d38f7eb976',
        '7a938e0a-c601-584e-a0a5-61726ececc46',
        'a0dfd344-4ef7-541a-9a69-a4b54cd33062',
      ],
      project: [
        '1667e22b-0655-5a7d-b4b1-3ff392b1881b',
        '89ef4f3e-2f5f-5093-ba02-c61d57671f91',
        '17238f52-00ae-5977-b85b-3c72c99ed6cc',
        'f8ac8f4d-83e2-5a2e-971e-d4aa980f0571',
      ],
      verify: [
        '45a230be-5ff7-5632-bf5e-e6ffa1e6e966',
        '683812c0-62d3-5410-aed6-5125a0f4f6fb',
        '9c9bd4af-6ab8-5504-82c7-a26763edb4f6',
        'fa39b77a-6c7d-5e86-b435-4f746caa38db',
      ],
    },
  },
  {
    workflowId: 'onboarding/' + 'a'.repeat(100),
    keys: {
      preflight: [
        '5d0dc5a3-0c6d-507d-8ba0-6a720b1576d8',
        'f249f1f7-6c8d-5fbe-b7d3-7a53af875b79',
        'cf08b3e3-811c-5b2b-948f-645d512132d2',
        'fb3ca29e-937d-51ef-ac1a-c8d4c5a85982',
      ],
      'create-org': [
        '5ae9892e-373a-5d03-bf98-33fb5e3db849',
        '5cf7d23e-a4ad-52f9-9333-635bc15614a8',
        '1be9bf4b-fde7-5b2c-96aa-c7448d66e714',
        '774d1480-3072-58b2-aa16-3ee38af13545',
      ],
      'mint-key': [
        '500efdde-680a-50b0-84b2-34bd329c8305',
        'c23f0e03-7b37-566f-ab0d-f79d56009735',
        '4ea23d0c-f313-545a-9158-a1ba8ea7976b',
        '9562bcfd-1cdf-5d66-a2ec-7c673bd290b0',
      ],
      'allocate-credits': [
        '7979fbe4-b792-5f9d-9b5e-b7b6caebd150',
        '4223f6b0-fb9a-5008-9654-d9b8f2a6ec56',
        '5570bc0f-f2cd-543b-88b1-7b3f6b5e23e7',
        'f2b4458a-1e39-5834-9c9f-d6c0b2c0a6de',
      ],
      'credit-config': [
        'ee11ba73-72bd-56cc-a78d-acb5c811acf5',
        '2e41c7d7-d800-5082-a355-1a041dde13ed',
        '638af9e3-c7c8-501f-a8ef-2f25f9ee9a0b',
        '062e487b-85af-5cbc-a00b-023ee6787981',
      ],
      firehose: [
        'e9c1f4ef-5d95-5fdd-9b12-34351169fa09',
        '9ca51bf4-3f0e-5e73-9b12-b50f18a7c689',
        '2135907b-1e06-5caa-886a-5053cfaac905',
        'ed69b331-5fa1-59d6-a0fd-6dddfa89704b',
      ],
      project: [
        '8d96ae15-95c2-5a38-9a7a-cdcadf7bb28c',
        '6526c17d-a7a0-5aa8-8eb1-97594252cefc',
        '79723743-52be-565d-8287-2a1d4c6b8b7e',
        '0422e1ea-0af2-5380-9d52-ba6da1808893',
      ],
      verify: [
        'a256e57d-75f0-59cc-8ce4-a2b1cd96d921',
        '7adea2c7-2751-5a80-854f-1f431688f99d',
        'bf5263ff-8292-581a-ad78-98afc1180a07',
        '84781f56-de5c-5911-aaca-3dbc30311637',
      ],
    },
  },
  {
    workflowId: 'onboarding/' + 'x.y_z-'.repeat(200),
    keys: {
      preflight: [
        '3eafbf0a-b1c4-55e1-9758-33105030b890',
        '39b3ac6d-7f15-5cbc-bcc3-9d9667775d46',
        '3f6c596e-9fa2-5281-b30a-d515d1df1f15',
        'ef2a81b5-af29-526c-8e40-5546e8d7f46f',
      ],
      'create-org': [
        'f11d3918-42eb-5e67-928b-e326be08e059',
        '2787d1bf-971d-5c1a-8ed0-0b52996e9967',
        '0b6a1827-80bf-543f-b5c6-dea6193e2f05',
        'd5ae445a-f0d9-54bb-873a-e9d950175182',
      ],
      'mint-key': [
        '175b820e-1563-5c31-af52-81553c2a410c',
        '8b646863-abca-5d9f-80d7-7f43dbf89b3c',
        'd979264d-a67e-5891-a8fd-e7009f639244',
        'e998f7e9-de4d-5d9b-85b3-1b972e334314',
      ],
      'allocate-credits': [
        '1f565001-d65a-5f8a-bd92-33c0015a8339',
        '55af80bc-4f2f-5fbd-a46d-da422af44d26',
        'f1b2d000-1500-539f-b7af-541b9d1ca502',
        'fe14e1c7-28f1-5873-8802-04ada9073104',
      ],
      'credit-config': [
        '2a70d454-361c-5179-ac28-1e8b4803969e',
        'd8de3c4d-97ff-5639-be7c-a5ab0e95e9f7',
        'b7744e30-116b-5db5-b939-cf90736c374f',
        '6c3576ac-edff-51c1-8ce7-d1bf188d47fa',
      ],
      firehose: [
        'dcb72836-708a-557a-8945-f53f2bb4cdf2',
        'eb91e0ad-a993-53ac-863c-a4db81db4f41',
        '5a8db384-aec7-55e2-ac31-5b115499a436',
        'f4f2c8f9-78a7-5931-a46a-95ea54d6839b',
      ],
      project: [
        '7ccae0c6-b49f-5c65-9032-adcf52fdd825',
        '46b5f071-7c16-5378-bb14-e60b520c7464',
        '824c5c1e-ece6-5480-9779-b1cda5cb969a',
        'c4056e53-f178-5a59-ac4e-9e487837237c',
      ],
      verify: [
        '0e56454f-7948-5cda-bf04-e62fb61a747b',
        '524c15bb-4b2a-5fd4-95ea-19eba41fb21a',
        '3be76c1e-a5a7-5add-a465-762100114fe9',
        '0dc49e5d-621a-52c9-b34a-ce8f269d0408',
      ],
    },
  },
  {
    workflowId: 'onboarding/café-☕-日本語-𝄞',
    keys: {
      preflight: [
        'bba64b93-9efa-550a-9f4e-237bffdbcdbe',
        '03844dca-8a98-536d-9404-1e264994eebb',
        'a08ab046-64de-5e33-bde3-a74b5b2a43ff',
        '646efb9c-967e-5dcc-809c-6b20a34ba814',
      ],
      'create-org': [
        '87276a59-2c27-58ed-876a-e4f641799085',
        '45655302-6f7a-5b03-b54c-28ad622b2229',
        '23385d54-f08e-5669-882a-dce5aa15f822',
        'a5b1a3bb-a34f-5e24-82e5-4481e565c213',
      ],
      'mint-key': [
        'c9cef1ef-27c3-5f4a-a7d1-c991f279e9b1',
        '5706eb51-22e2-5e0f-9f40-f3c99f2ff282',
        'f8b4a172-0e89-558f-a91c-f76025b063b4',
        '871e5c94-d516-537b-bd4f-bce220dba1a1',
      ],
      'allocate-credits': [
        '7966b322-b23a-5366-9a79-bd2e8fb8683c',
        '330423e8-f209-5e51-824f-155c314175e6',
        '7bd939af-83f9-5fa0-b50c-78893eb5fa28',
        '7d377a66-7947-5d23-9c8f-9f9afa044efd',
      ],
      'credit-config': [
        '2e4ae721-cf16-5a6c-a881-eb9bb61e3cfc',
        '167d878c-62b2-532b-b338-b359f89b6eaf',
        'b01379c5-54ab-5fe0-b637-178f15bc660c',
        '9814620e-5f49-5439-9c1a-9b15fc64f364',
      ],
      firehose: [
        'e33f33f0-977f-524b-8011-1369218fce9e',
        '4b4737f3-8410-502a-8421-859581c32185',
        'bfe958e6-9d6b-5835-b81f-a8c3fb270347',
        '13569d8a-998d-563d-ae8c-d70469d9356d',
      ],
      project: [
        '43e20047-4428-5b58-a408-2889bcf4fe57',
        '77bb110e-a12e-5459-93f0-046253890cc1',
        '3ffff726-6f1c-5533-99cf-1432dd15d6d9',
        'a470400d-f9d4-509f-a9ab-7490af27366f',
      ],
      verify: [
        'adb1a5a4-ccfd-59f6-85bc-9b5a792b7823',
        '0d0a4090-8b4b-5dab-9da4-df9f24043473',
        '975c04a8-0f69-5b43-b340-36448ecedcc2',
        '0f4445c3-641c-5c89-b936-ff0792c21fe2',
      ],
    },
  },
  {
    workflowId: 'onboarding/a|b|0',
    keys: {
      preflight: [
        '090f0bb3-c280-57c9-b7b2-ae350b7b1b15',
        '564f9dbd-34d4-5326-97d0-6a7460e58b4c',
        '2f612501-407f-5148-bc82-339a83680eb5',
        '3a6a8c56-54eb-54fe-90dd-fe321a14162a',
      ],
      'create-org': [
        'd5dbdd08-98d9-5abd-8dd6-cf2140f36d1f',
        'f40f97ea-7cd8-5d3a-8480-4f9bf1166e60',
        '38d3cdeb-ce85-509d-8018-43ba9b50ebf8',
        '0df485a3-dc03-54d8-80d4-ce63f5804455',
      ],
      'mint-key': [
        '0247960c-2689-5a64-9248-3aba49d39b76',
        'f030af40-2696-5bb5-890d-0c2fcd769b87',
        '399149d5-4296-5e69-8a0d-9a861584e711',
        '913938e8-dabc-581a-8d82-1f939b88896c',
      ],
      'allocate-credits': [
        '036294db-b25b-5579-a8d2-4e8a84f2f440',
        '9f3e016b-64ac-5271-9c8a-a145af2291b4',
        'b266c9fe-647a-5b0e-aac8-8f64aa7b621d',
        '642c1022-fdbd-51e2-94af-0d9f4b5ea979',
      ],
      'credit-config': [
        '1d131baf-1ba2-5b2d-a7bb-63869ff73b11',
        'e63e4722-b525-5e01-8462-b73d12a9c326',
        '8355dd69-9a09-50c4-a0ce-4a7cad9ea5e6',
        'bfe453ae-9893-521f-b86d-de6ff99f5eb1',
      ],
      firehose: [
        'f6392eba-d96e-5d7c-be35-0296c348c4df',
        '1daefbc9-aa4b-5b9b-a961-f391216626e1',
        'c10cc475-dc83-5e51-95e1-71d449a1537e',
        '0c4b4ac7-8488-5f98-a769-65eb925df531',
      ],
      project: [
        '7fe73d28-df6a-56e1-a8a6-e24e20f997cf',
        '9b1f79f9-9b7c-5297-8f08-048ae0727789',
        'cc9b781d-5e32-5923-a154-ef8e64b39612',
        '22f6ef1b-2f40-5ab7-8ec7-1733810296b7',
      ],
      verify: [
        '2cdd897a-0f05-57c6-b65c-9535da7e2800',
        'ba563182-89cf-5ca6-b4b9-58515d3d8a32',
        '0bf25beb-ac5d-5051-8f5b-b9b64ef4b7e3',
        'd378c9a9-d5ba-5685-bdac-b98eb4449b4f',
      ],
    },
  },
  {
    workflowId: '',
    keys: {
      preflight: [
        'a79a89c4-fa9a-5549-a33c-c0086f95940f',
        '4d679d63-245c-5322-a786-a3630f9bc8c7',
        '58f3a575-7704-5d6e-b1cf-b2a9381febf6',
        '861ac144-1b47-5b85-9400-0c08c11b59f5',
      ],
      'create-org': [
        'ce4e9bfd-d4bf-5e10-8fe7-6c5c51881ad4',
        'b15f6730-cba9-58ae-b6fa-0f6da790d835',
        '5f096988-f9c4-530e-aa72-22274e081ddb',
        '2be78788-7393-54ae-bbcc-e4693a9647a8',
      ],
      'mint-key': [
        '9ac627b5-4544-54ed-9c46-baab2a630b1d',
        '6c859ab8-aef0-5b4d-8e19-a300ca2b92c7',
        '9eaa4d0e-c8ef-5fb6-b35f-516f952dc295',
        'e2328a7a-6e0f-56ef-92a9-40a8ce493ab9',
      ],
      'allocate-credits': [
        '03fe29d2-3fa4-5416-88d9-b572eb1dbbe7',
        'c5554dfc-aa56-567c-804b-2267cc1a098d',
        'c4a7f5ba-3841-5cb6-9f09-fd624a0acfad',
        'ad4331b5-a141-5cc9-88d6-2373442939c5',
      ],
      'credit-config': [
        '87761e54-f3af-5dc4-ab84-66a2ab6557e5',
        '7b0e275a-27e4-51d3-b3ff-26fdf2817deb',
        '9e088dc0-e039-51d6-a59f-e3d999fa6f06',
        '560c5a32-b731-5885-a4f8-c33e143ca698',
      ],
      firehose: [
        'd7b80b63-a6a3-5ee2-967e-b76839235759',
        '99365df4-d4c6-5cf4-9fc0-5a16715c1486',
        'e5df76bd-630e-57bc-808e-b576a93332bb',
        '21b68178-a12d-50c3-9cd1-f4724981129b',
      ],
      project: [
        '7973dd0c-7189-5a37-9b17-fb6001dc0064',
        '2cacbcfb-decf-5bf4-bf0c-97b452cc87b2',
        'cd4df6ac-506a-596a-9b94-f9dbb2a993ca',
        '1c67d124-747f-59cd-83e0-04a8c7e961c9',
      ],
      verify: [
        '913a3a0c-4a1f-5267-9341-22cddc5c8477',
        '0bd337ff-f64f-5948-bf8c-b98366a49122',
        'c8f3bfbc-3007-5a9c-8e19-f5ebf24cb0fa',
        '9c9d35ba-fd9c-5168-87dd-8ca1ccd153e9',
      ],
    },
  },
  {
    workflowId: 'onboarding/\ud800-lone',
    keys: {
      preflight: [
        '4b1967cf-d156-50f8-972e-ab23a5190cbe',
        '35c99392-0680-50ac-8d0e-39d64b273879',
        'd407a28f-e244-5ef6-b1c3-e44899308a1d',
        'dd9cfaf5-0945-5039-93ec-aa07f9a3d3f5',
      ],
      'create-org': [
        'b2756f4b-a97f-5b39-a630-3d069e851c54',
        'bf0dc1a0-ea3c-5289-a5b1-606224d4b1bc',
        '18a65dbf-0fee-5a07-bb38-b18611d562c3',
        '5c1e60c9-623b-594c-a349-51f60b14d5b0',
      ],
      'mint-key': [
        '4d47b1b0-41f6-54e5-8de0-a860df6652c2',
        '012f662a-3a53-58f6-a21a-ebf20d00fd78',
        '6b58b954-ebb9-5d2c-a661-2e0c7c888da6',
        'be448da5-55fd-5e9d-9111-5156011f195f',
      ],
      'allocate-credits': [
        '648a4bf7-c0cc-5b34-b489-ea69c6ece9c0',
        'e4874f53-a755-5a5f-93e5-bc8190d55bc5',
        '482402e2-20d2-564f-925e-ab8ac6285801',
        '60256508-d94c-584b-bf47-5cba6e21155c',
      ],
      'credit-config': [
        'ea113088-4584-58c9-9995-c0a2e37ec781',
        '053edccf-5957-560f-a467-aaf639c98afa',
        '4640237b-d8da-539c-a46c-b93677691725',
        '8215eb19-7dbb-539b-aecd-b1b9a2798a4b',
      ],
      firehose: [
        'cda1f94d-343a-5c5c-acca-d02d625c6966',
        'e5cb07d1-b6d8-5eda-89ed-73cc920cd0ed',
        '85969de0-9e46-53ad-987e-fc4d8e4d0539',
        'ce3e37d4-cf04-5e30-8aea-1ed9491c3cbc',
      ],
      project: [
        '9bd6c94e-21da-5d0c-aa33-28d103634e3e',
        '3d371089-3081-548f-ae19-3656f4be9594',
        '544a30f0-6be6-5749-b45d-8e1518023615',
        'cae2475f-ac9d-57d9-a2f4-6ab9a94284a3',
      ],
      verify: [
        '3d85d35e-8981-54fa-80b3-036d580f3d0e',
        'd7ab7db7-8014-5b53-beee-2f337859c932',
        '9ad76749-19d5-5129-acb1-52a02299e182',
        '10d1bdbb-8d28-5852-ac43-f2a5b174f56e',
      ],
    },
  },
];

const RECORDED_FIREHOSE_KEYS: Array<[url: string, scope: string, events: string[], key: string]> = [
  [
    'https://quinns-crm.example.com/layers/webhooks',
    'all_children',
    ['content.generated', 'post.published'],
    'cab025a1-cb29-5b67-9c1b-3ca0bb63f884',
  ],
  [
    'https://quinns-crm.example.com/layers/webhooks',
    'all_children',
    ['post.published', 'content.generated'],
    'cab025a1-cb29-5b67-9c1b-3ca0bb63f884',
  ],
  [
    'https://quinns-crm.example.com/layers/webhooks',
    'all_children',
    [],
    '21da5e80-f0d8-50e3-a8de-135e86ecaa20',
  ],
  [
    'http://127.0.0.1:9999/hooks',
    'all_children',
    ['content.generated'],
    '01ea9f11-a33d-5a37-b2fe-a37603fd4508',
  ],
  [
    'https://例え.テスト/フック?q=☕&x=𝄞',
    'all_children',
    ['content.generated', 'post.published'],
    'deab8999-206d-5f89-a812-0f2bf5fa8859',
  ],
  [
    'https://crm.example/' + 'p'.repeat(2000),
    'all_children',
    ['post.published'],
    '00a4b4d4-2083-5784-bb8d-ac2b860e8b45',
  ],
  ['https://crm.example/\udfff', 'all_children', ['post.published'], '5ebd3fd4-bdf8-5418-af9f-71cc0ea69517'],
];

/**
 * Jest resolves `uuid` to its Node build (node:crypto SHA-1); the workflow bundle resolves the browser
 * build (SHA-1 in JavaScript), which is what computes the keys in production. Both are checked.
 */
function withBrowserUuid(): typeof nodeBuild {
  const browserBuild = path.join(
    path.dirname(require.resolve('uuid/package.json')),
    'dist/cjs-browser/index.js',
  );
  let loaded: typeof nodeBuild | undefined;
  jest.isolateModules(() => {
    jest.doMock('uuid', () => jest.requireActual(browserBuild));
    loaded = jest.requireActual<typeof nodeBuild>('../../workflows/idempotency');
  });
  jest.dontMock('uuid');
  return loaded!;
}

describe.each([
  ['node build', nodeBuild],
  ['browser build (the workflow bundle)', withBrowserUuid()],
])(
  'idempotency keys are bit-identical to the recorded ones: uuid %s',
  (_, { firehoseIdempotencyKey, idempotencyKey, uuidV5 }) => {
    test.each(RECORDED_KEYS.map((r) => [r.workflowId.slice(0, 40), r] as const))(
      'workflow %s: every step, generations 0..3',
      (_, { workflowId, keys }) => {
        expect(Object.keys(keys)).toEqual([...ONBOARDING_STEPS]);
        for (const step of ONBOARDING_STEPS) {
          expect([0, 1, 2, 3].map((generation) => idempotencyKey(workflowId, step, generation))).toEqual(
            keys[step],
          );
        }
        expect(idempotencyKey(workflowId, 'create-org')).toBe(keys['create-org'][0]);
      },
    );

    test.each(RECORDED_FIREHOSE_KEYS.map((r) => [r[0].slice(0, 40), r[2].join(','), r] as const))(
      'firehose %s [%s]',
      (_, __, [url, scope, events, key]) => {
        const before = [...events];
        expect(firehoseIdempotencyKey(url, scope, events)).toBe(key);
        expect(events).toEqual(before);
      },
    );

    test('uuidV5 is RFC 4122 version 5 (the RFC example) and defaults to the project namespace', () => {
      expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
        '2ed6657d-e927-568b-95e1-2665a8aea6a2',
      );
      expect(uuidV5('hello')).toBe('b67832cd-623d-5b3c-a118-173fc018c7fa');
    });
  },
);

/**
 * The step each keyed activity writes for, as workflows/onboarding.ts names it (`keyFor(step, generation)`).
 * The customer's own webhook endpoint (behind `patched('partner-firehose')`) is created inside the child org
 * under the workflow's own 'firehose' key; only the older parent-scoped `ensureFirehose` uses
 * firehoseIdempotencyKey.
 */
const STEP_OF_ACTIVITY: Record<string, OnboardingStepName> = {
  createChildOrganization: 'create-org',
  mintChildApiKey: 'mint-key',
  allocateCredits: 'allocate-credits',
  configureCredits: 'credit-config',
  ensureCustomerWebhook: 'firehose',
  createProject: 'project',
};

interface RecordedHistory {
  events: Array<{
    activityTaskScheduledEventAttributes?: {
      activityType: { name: string };
      input?: { payloads?: Array<{ data?: string }> };
    };
  }>;
}
interface KeyedInput {
  idempotencyKey?: unknown;
  workflowId?: string;
  url?: string;
  events?: string[];
}

test('every Idempotency-Key in the recorded histories (test/histories) is what the workflow derives today', () => {
  const dir = path.resolve(__dirname, '../histories');
  let checked = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as RecordedHistory;
    const scheduled = history.events
      .flatMap((e) =>
        e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : [],
      )
      .map((a) => ({
        type: a.activityType.name,
        input: JSON.parse(
          Buffer.from(a.input?.payloads?.[0]?.data ?? '', 'base64').toString() || 'null',
        ) as KeyedInput | null,
      }))
      .filter(
        (a): a is { type: string; input: KeyedInput & { idempotencyKey: string } } =>
          typeof a.input?.idempotencyKey === 'string',
      );
    const workflowId = scheduled.find((a) => a.type === 'createChildOrganization')?.input.workflowId;
    for (const { type, input } of scheduled) {
      if (type === 'ensureFirehose') {
        expect(nodeBuild.firehoseIdempotencyKey(input.url!, 'all_children', input.events!)).toBe(
          input.idempotencyKey,
        );
      } else {
        expect(workflowId).toBeDefined();
        // A keyed activity this test does not know is a derivation it cannot vouch for: name it.
        expect({ file, type, step: STEP_OF_ACTIVITY[type] }).toEqual({
          file,
          type,
          step: expect.any(String),
        });
        const derived = [0, 1, 2, 3].map((generation) =>
          nodeBuild.idempotencyKey(workflowId!, STEP_OF_ACTIVITY[type]!, generation),
        );
        expect(derived).toContain(input.idempotencyKey);
      }
      checked++;
    }
  }
  expect(checked).toBeGreaterThanOrEqual(12);
});
